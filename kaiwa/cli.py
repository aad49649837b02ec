"""The command line: options → settings → endpoint → agent turn → renderer and store.

Nothing here imports the Agents SDK or openai at module level: `--help`, `sessions` and `gateway` stay fast.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .errors import KaiwaError, UsageError
from .settings import REASONING_EFFORTS, Settings, load_settings

EXAMPLES = """

Examples:

\b
  uv run chat.py --input "こんにちは"                        # one turn, new session
  uv run chat.py --input "続けて" --session-id 0190…          # continue a session
  uv run chat.py --input "hi" --model local                  # the offline demo model
  echo "summarise this" | uv run chat.py                     # text from a pipe
  uv run chat.py sessions                                    # list stored sessions
"""

app = typer.Typer(
    pretty_exceptions_enable=False,
    add_completion=True,
    no_args_is_help=False,
    rich_markup_mode=None,
    help="kaiwa: chat with models behind a LiteLLM proxy (Responses API), sessions kept in SQLite." + EXAMPLES,
    context_settings={"help_option_names": ["-h", "--help"]},
)

err_console = Console(stderr=True)


def _fail(exc: KaiwaError, debug: bool, text: str | None = None) -> typer.Exit:
    if debug:
        err_console.print_exception()
    err_console.print(exc.line(), style="bold red", highlight=False, soft_wrap=True)
    if text:  # nothing the user typed is lost
        err_console.print("your message (not sent, nothing saved):", style="dim", highlight=False)
        err_console.print(text, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _read_input(given: str | None) -> str:
    if given is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("nothing to send", 'give --input "your message" (or pipe text on stdin)')
        given = sys.stdin.read()
    if not given.strip():
        raise UsageError("the message is empty", 'give --input "your message"')
    return given


def _turn(
    settings: Settings,
    text: str,
    session_id: str | None,
    model: str,
    reasoning: str | None,
    use_tools: bool,
    mcp_config: Path | None,
    show_reasoning: bool,
    plain: bool,
) -> None:
    from .render import Renderer, usage_line
    from .store import Store, new_session_id, parse_session_id

    store = Store(settings.db_path)
    if session_id is not None:
        sid = parse_session_id(session_id)
        if not store.exists(sid):
            raise KaiwaError(
                f"no session {sid} in {store.path}",
                "check the id (or SESSION_DB_PATH); omit --session-id to start a new conversation",
            )
    else:
        sid = new_session_id()

    mcp_specs = []
    if use_tools:
        from .mcp_servers import default_mcp_config_path, load_mcp_config

        chosen = mcp_config or settings.mcp_config  # a file the user named must exist; the default may not
        mcp_specs = load_mcp_config(chosen or default_mcp_config_path(), missing_ok=chosen is None)

    out = Console(soft_wrap=False)
    markdown = out.is_terminal and not plain
    renderer = Renderer(out, err_console, markdown=markdown, show_reasoning=show_reasoning)
    from .gateway import missing_cloud_settings, resolve_endpoint

    endpoint = resolve_endpoint(settings, renderer.notice)  # may start the local gateway (never for a user's URL)
    if endpoint.managed and model != "local":
        missing = missing_cloud_settings(model)
        if missing:
            raise KaiwaError(
                f"the model {model!r} needs {', '.join(missing)} in .env.litellm",
                "add them (see .env.litellm.example), or try --model local",
            )

    from .turn import TurnRequest, run_turn

    request = TurnRequest(
        session_id=sid,
        text=text,
        model=model,
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        reasoning=reasoning,
        use_tools=use_tools,
        mcp_specs=mcp_specs,
    )
    try:
        record = asyncio.run(run_turn(request, store, renderer))
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        from .failures import explain

        raise explain(
            exc, base_url=endpoint.base_url, api_key=endpoint.api_key, model=model, timeout=settings.timeout
        ) from exc
    store.record_turn(sid, text, record)
    renderer.usage(
        usage_line(
            model, record.input_tokens, record.output_tokens, record.reasoning_tokens, record.cached_tokens, record.cost
        )
    )
    err_console.print(f"SESSION_ID={sid}", highlight=False, soft_wrap=True)


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    input: Annotated[
        str | None,
        typer.Option(
            "--input", "-i", help='The message to send, e.g. --input "こんにちは". Read from stdin when piped.'
        ),
    ] = None,
    session_id: Annotated[
        str | None,
        typer.Option("--session-id", "-s", help="Continue this stored session (the UUID printed as SESSION_ID=…)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Proxy alias for this turn, e.g. --model vertex-gemini-2.0-flash"
            " (default: LITELLM_MODEL, else bedrock-claude-3-5-sonnet).",
        ),
    ] = None,
    reasoning: Annotated[
        str | None,
        typer.Option(
            "--reasoning",
            help="Ask the model to reason: low, medium or high (KAIWA_REASONING). Ignored by models that cannot.",
        ),
    ] = None,
    hide_reasoning: Annotated[bool, typer.Option("--hide-reasoning", help="Do not show reasoning summaries.")] = False,
    no_tools: Annotated[
        bool, typer.Option("--no-tools", help="Give the model no tools (neither built-in nor MCP).")
    ] = False,
    mcp_config: Annotated[
        Path | None,
        typer.Option("--mcp-config", help='MCP servers file ({"mcpServers": {...}}), e.g. --mcp-config mcp.json.'),
    ] = None,
    plain: Annotated[
        bool, typer.Option("--plain", help="Plain text even on a terminal (no Markdown rendering).")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Send one message and stream the answer; the session id is printed as SESSION_ID=… on stderr."""
    if ctx.invoked_subcommand is not None:
        return
    text: str | None = input
    if not debug:
        # Failures reach the user as one line; the SDK's own error logs would repeat them.
        for name in ("openai.agents", "openai", "httpx2", "mcp"):
            logging.getLogger(name).disabled = True
        # LiteLLM's bridged reasoning items carry `output_text` parts where openai's types expect
        # `reasoning_text`; the items replay fine, but pydantic warns on every serialisation.
        warnings.filterwarnings("ignore", message=r"(?s).*Pydantic serializer warnings")
    try:
        settings = load_settings()
        if reasoning is not None and reasoning.lower() not in REASONING_EFFORTS:
            raise UsageError(f"--reasoning {reasoning!r} is not one of {', '.join(REASONING_EFFORTS)}")
        text = _read_input(input)
        _turn(
            settings,
            text,
            session_id,
            model or settings.model,
            (reasoning or "").lower() or settings.reasoning,
            not no_tools,
            mcp_config,
            not hide_reasoning,
            plain,
        )
    except KaiwaError as exc:
        raise _fail(exc, debug, None if isinstance(exc, UsageError) else text) from None
    except Exception as exc:  # a bug, not the user's doing: still one line, details with --debug
        if debug:
            raise
        bug = KaiwaError(f"unexpected {type(exc).__name__}: {exc}", "run again with --debug and report it")
        raise _fail(bug, False, text) from None
    except KeyboardInterrupt:
        interrupted = KaiwaError("interrupted", "nothing was saved for this turn; the session is as it was", 130)
        raise _fail(interrupted, False, text) from None


@app.command()
def sessions(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 20,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """List stored sessions, newest first: id, last used, model, turns, tokens, title."""
    import datetime as dt

    from .store import Store

    try:
        store = Store(load_settings().db_path)
    except KaiwaError as exc:
        raise _fail(exc, debug) from None
    out = Console()
    for s in store.sessions(limit):
        when = dt.datetime.fromtimestamp(s.updated_at).strftime("%Y-%m-%d %H:%M")
        cost = f" ${s.cost:.4f}" if s.cost else ""
        out.print(
            f"{s.session_id}  {when}  {s.model}  {s.turns} turns"
            f"  {s.input_tokens + s.output_tokens:,} tok{cost}  {s.title}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _mount_gateway() -> None:
    try:
        from .gateway_cli import gateway_app
    except ImportError:  # not built yet
        return
    app.add_typer(gateway_app, name="gateway", help="Manage the local gateway kaiwa starts when no proxy answers.")


_mount_gateway()


def run() -> None:
    app()
