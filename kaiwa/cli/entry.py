"""How a kaiwa process ends: usage errors as one line (not Click's four-line box), arguments that are not UTF-8
refused by name, and a reader that closes the pipe early (`| head -1`) met quietly.

A closed pipe ends the process with exit code 141 (128 + SIGPIPE) and no message: what a shell reports for a Unix
tool killed by SIGPIPE, so `set -o pipefail` scripts see that the output was cut short, and nothing is printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import KaiwaError, UsageError
from ..values import printable, text
from ..words import program
from .common import PIPE_CLOSED, Pipe, err_console, error_line, quiet_broken_pipe

# Options whose value may be any bytes: --input's undecodable bytes become U+FFFD with a notice.
_LENIENT = {"-i", "--input"}
_FILE_OPTIONS = {"-a", "--attach", "--mcp-config", "--schema"}
_FILE_HINT = "rename the file, or give a copy with a UTF-8 name"


def check_arguments(args: Sequence[str]) -> None:
    """One line naming the first argument that is not valid UTF-8 (Python keeps its bytes as surrogates)."""
    for index, arg in enumerate(args):
        name, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if eq:
            source = name
        elif index and args[index - 1].startswith("-") and args[index - 1] != "--":
            source, value = args[index - 1], arg
        else:
            source = "an argument"
        if source in _LENIENT:
            continue
        text(value, source, _FILE_HINT if source in _FILE_OPTIONS else "")


def _console_reader_gone(console: Any) -> None:
    """Rich's documented hook for a closed pipe (its default exits 1 at once): stay quiet and carry on, so a
    command finishes its work (a turn is stored: it is paid for), then the process ends with PIPE_CLOSED."""
    console.quiet = True
    try:
        fd = console.file.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    quiet_broken_pipe(fd)


def _line(exc: KaiwaError) -> None:
    err_console.print(error_line(exc), style="bold red", highlight=False, soft_wrap=True, markup=False)


def finish(main: Callable[[], Any]) -> None:
    import typer
    from rich.console import Console
    from typer._click import exceptions as click  # Typer's own copy of Click: its usage errors are these

    Console.on_broken_pipe = _console_reader_gone  # type: ignore[method-assign,assignment]
    try:
        check_arguments(sys.argv[1:])
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_broken_pipe()
        sys.exit(PIPE_CLOSED)
    except KaiwaError as exc:
        _line(exc)
        sys.exit(exc.exit_code)
    except click.NoArgsIsHelpError as exc:
        exc.show()  # a group named alone: its help, as before
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else program()
        message = printable(exc.format_message()).rstrip(".")
        _line(UsageError(message[:1].lower() + message[1:], f"see `{where} --help`"))
        sys.exit(2)
    except click.ClickException as exc:
        _line(KaiwaError(printable(exc.format_message())))
        sys.exit(exc.exit_code)
    except typer.Abort:
        _line(KaiwaError("interrupted", exit_code=130, kind="interrupted"))
        sys.exit(130)
    sys.exit(PIPE_CLOSED if Pipe.reader_gone else code if isinstance(code, int) else 0)
