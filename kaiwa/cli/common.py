"""What every command shares: the Typer app, the stderr console, and `run_command`: one way from a failure to its
line and exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ..errors import KaiwaError
from ..pipe import PIPE_CLOSED, Pipe, quiet_broken_pipe  # noqa: F401  (re-exported for the commands)
from ..redact import redact, redacted_traceback
from ..settings import Settings
from ..ui.sanitize import clean

if TYPE_CHECKING:
    from ..core.events import TurnFailed

DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]

EXAMPLES = """

Examples:

\b
  uv run chat.py                                             # the interactive mode (on a terminal)
  uv run chat.py -c                                          # … continuing the last conversation
  uv run chat.py --input "こんにちは"                        # one turn, new session
  uv run chat.py --input "続けて" --session-id 0190…          # continue a session
  uv run chat.py --input "hi" --model local                  # the offline demo model
  echo "summarise this" | uv run chat.py                     # text from a pipe
  git diff | uv run chat.py -i "write the commit message"    # piped text as a document after your words
  uv run chat.py -a screenshot.png -i "what is wrong here?"  # attach files, images, PDFs
  uv run chat.py --schema 'title: str, tags: list[str]' -i … # a JSON answer that follows the fields
  uv run chat.py --json -i "hi" | jq -c .                    # JSON Lines for scripts
  uv run chat.py sessions                                    # list stored sessions
"""

app = typer.Typer(
    pretty_exceptions_enable=False,
    add_completion=True,
    no_args_is_help=False,
    rich_markup_mode=None,
    help="kaiwa: chat with models behind a LiteLLM proxy (Responses API),"
    " sessions kept in SQLite or Postgres (SESSION_DB_URL)."
    " On a terminal without --input it opens the interactive mode (/help inside)." + EXAMPLES,
    context_settings={"help_option_names": ["-h", "--help"]},
)

err_console = Console(stderr=True)


def error_line(exc: KaiwaError | TurnFailed) -> str:
    """The one line a failure prints: secrets masked, and no control character left (a role file's key, an MCP
    config's name or a piped file's text quoted in it must not drive the terminal)."""
    return clean(redact(exc.line()))


def run_command(
    work: Callable[[], int | None],
    *,
    debug: bool = False,
    json_lines: bool = False,
    message: Callable[[], str | None] = lambda: None,
    interrupted: str = "nothing was changed",
) -> None:
    """Every command's body runs here. Its outcome is an exit code; every failure — a KaiwaError (also one the
    core raised before a turn: no such session, a bad role, the gateway not starting), Ctrl-C, a bug — becomes one
    `TurnFailed` event, shown as one line on stderr (and with `--json` as its last line), exiting with its code.
    `message`: the user's text, given back unless the failure is about the flags (`usage`) or the answer was
    stored (`bad_answer`); `interrupted`: what Ctrl-C leaves."""
    from ..core.outcome import as_event, unexpected
    from ..core.outcome import interrupted as stopped

    try:
        code = work()
    except typer.Exit:
        raise
    except BrokenPipeError:  # the reader left (`| head -1`): nothing more to say, cli/entry.py exits 141
        quiet_broken_pipe()
        return
    except KaiwaError as exc:
        failed = as_event(exc)
    except KeyboardInterrupt:
        failed = as_event(stopped(interrupted))
    except Exception as exc:  # a bug, not the user's doing: still one line, its (masked) traceback with --debug
        failed = as_event(unexpected(exc))
    else:
        if code:
            raise typer.Exit(code)
        return
    # --json: the message is the caller's own (stderr stays quiet but for the one line)
    given = None if json_lines or failed.kind in ("usage", "bad_answer") else message()
    raise show_failure(failed, debug=debug and failed.kind != "interrupted", json_lines=json_lines, message=given)


def show_failure(
    failed: TurnFailed, *, debug: bool, json_lines: bool = False, message: str | None = None
) -> typer.Exit:
    """A failure as the command line shows it: `--json`'s error line (stdout), the traceback with --debug, the one
    line, the user's message given back; the exit to raise."""
    if json_lines:
        from ..ui.jsonl import JsonLines  # pydantic: only for --json

        JsonLines(err=err_console).error(failed)
    if debug and failed.cause is not None:  # the traceback, masked like every other line (exception texts quote URLs)
        err_console.print(clean(redacted_traceback(failed.cause)), markup=False, highlight=False, soft_wrap=True,
                          end="")  # fmt: skip
    err_console.print(error_line(failed), style="bold red", highlight=False, soft_wrap=True, markup=False)
    if message and not failed.kept:  # nothing the user typed is lost (shown harmlessly: it may be a piped file's)
        fate = "sent, but nothing of the turn was saved" if failed.sent else "not sent, nothing saved"
        err_console.print(f"your message ({fate}):", style="dim", highlight=False)
        err_console.print(clean(message, keep_crlf=True), markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(failed.exit_code)


def load_settings() -> Settings:
    """The settings, and the one line saying what an untrusted folder set that was left out."""
    from .. import settings

    loaded = settings.load_settings()
    say_untrusted(loaded.untrusted)
    return loaded


def say_untrusted(line: str | None) -> None:
    """Once a process: `roles` says it as chat does, and a REPL says it when it starts, not per turn."""
    if line and line not in _said:
        _said.append(line)
        err_console.print(clean(f"kaiwa: {line}"), style="dim", highlight=False, markup=False, soft_wrap=True)


_said: list[str] = []
