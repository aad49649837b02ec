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

from ..errors import KaiwaError, UsageError
from ..settings import REASONING_EFFORTS, Settings, load_settings
from .common import app, err_console, fail


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
    from ..chat.render import Renderer, usage_line
    from ..store import open_store
    from ..store.base import TurnRecord
    from ..store.sqlite import new_session_id, parse_session_id

    mcp_specs = []
    if use_tools:
        from ..tools.mcp_config import default_mcp_config_path, load_mcp_config

        chosen = mcp_config or settings.mcp_config  # a file the user named must exist; the default may not
        mcp_specs = load_mcp_config(chosen or default_mcp_config_path(), missing_ok=chosen is None)

    out = Console(soft_wrap=False)
    markdown = out.is_terminal and not plain
    renderer = Renderer(out, err_console, markdown=markdown, show_reasoning=show_reasoning)
    from ..chat.turn import ChatEngine, EngineConfig, TurnOptions
    from ..gateway.endpoint import missing_cloud_settings, resolve_endpoint

    store = open_store(settings)
    sid = parse_session_id(session_id) if session_id is not None else new_session_id()
    endpoint = None

    async def one_turn() -> TurnRecord:
        nonlocal endpoint
        await store.open()  # a bad store fails here, before any gateway is started
        if session_id is not None and await store.get_session(sid) is None:
            raise KaiwaError(
                f"no session {sid} in {store.location}",
                "check the id (or SESSION_DB_PATH); omit --session-id to start a new conversation",
            )
        endpoint = resolve_endpoint(settings, renderer.notice)  # may start the local gateway (never a user's URL)
        if endpoint.managed and model != "local":
            missing = missing_cloud_settings(model)
            if missing:
                raise KaiwaError(
                    f"the model {model!r} needs {', '.join(missing)} in .env.litellm",
                    "add them (see .env.litellm.example), or try --model local",
                )
        config = EngineConfig(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            use_tools=use_tools,
            mcp_specs=mcp_specs,
        )
        options = TurnOptions(model=model, reasoning=reasoning)
        async with ChatEngine(config, lambda line: renderer.notice(line, "yellow")) as engine:
            result = await engine.run_turn(
                store,
                sid,
                text,
                options,
                renderer,
                on_wait=lambda: renderer.notice(f"waiting: another kaiwa process is in a turn on session {sid}"),
            )
            return result.record

    async def guarded() -> TurnRecord:
        try:
            return await one_turn()
        finally:
            await store.close()

    try:
        record = asyncio.run(guarded())
    except (KeyboardInterrupt, KaiwaError):
        raise
    except Exception as exc:
        from ..store import store_failure

        if (failure := store_failure(exc, store)) is not None:  # e.g. a damaged page met mid-turn
            raise failure from exc
        if endpoint is None:
            raise
        from ..chat.failures import explain

        raise explain(
            exc, base_url=endpoint.base_url, api_key=endpoint.api_key, model=model, timeout=settings.timeout
        ) from exc
    renderer.usage(
        usage_line(
            model, record.input_tokens, record.output_tokens, record.reasoning_tokens, record.cached_tokens, record.cost
        )
    )
    err_console.print(f"SESSION_ID={sid}", highlight=False, soft_wrap=True)


def _named_session(settings: Settings, ref: str | None, latest: bool) -> str:
    """The full id that `--session-id REF` (full, short or a unique fragment) or `-c` names, or a one-line error."""
    from ..store.naming import pick
    from .sessions import with_store

    info = with_store(settings, lambda store: pick(store, ref, latest))
    assert info is not None  # pick returns None only when neither was given
    return info.session_id


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
        typer.Option(
            "--session-id",
            "-s",
            help="Continue this stored session: its id (SESSION_ID=…), short id, or a unique part of 6+ characters.",
        ),
    ] = None,
    continue_latest: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue the most recently used session.")
    ] = False,
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
        if session_id is not None or continue_latest:  # a short id, a fragment or -c: the full id, or one line
            session_id, continue_latest = _named_session(settings, session_id, continue_latest), False
        if input is None and sys.stdin is not None and sys.stdin.isatty():  # a terminal: the interactive mode
            from ..chat.repl import ReplOptions, run_repl

            options = ReplOptions(
                session_id=session_id, continue_latest=continue_latest, model=model or settings.model,
                reasoning=(reasoning or "").lower() or settings.reasoning, use_tools=not no_tools,
                mcp_config=mcp_config, show_reasoning=not hide_reasoning, plain=plain, debug=debug,
            )  # fmt: skip
            exit_code = run_repl(settings, options)
            if exit_code:
                raise typer.Exit(exit_code)
            return
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
    except typer.Exit:
        raise
    except KaiwaError as exc:
        raise fail(exc, debug, None if isinstance(exc, UsageError) else text) from None
    except Exception as exc:  # a bug, not the user's doing: still one line, details with --debug
        if debug:
            raise
        bug = KaiwaError(f"unexpected {type(exc).__name__}: {exc}", "run again with --debug and report it")
        raise fail(bug, False, text) from None
    except KeyboardInterrupt:
        interrupted = KaiwaError("interrupted", "nothing was saved for this turn; the session is as it was", 130)
        raise fail(interrupted, False, text) from None
