"""The command line: options → settings → endpoint → agent turn → renderer and store.

Nothing here imports the Agents SDK or openai at module level: `--help`, `sessions` and `gateway` stay fast.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ..errors import KaiwaError, UsageError
from ..settings import REASONING_EFFORTS, Settings, load_settings
from . import oneshot
from .common import app, err_console, fail

if TYPE_CHECKING:
    from ..chat.inputs import Message


def _turn(
    settings: Settings,
    message: Message,
    session_id: str | None,
    model: str,
    reasoning: str | None,
    use_tools: bool,
    mcp_config: Path | None,
    show_reasoning: bool,
    plain: bool,
    shape: oneshot.Shape,
) -> None:
    from ..chat.render import Renderer, record_usage_line
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
    renderer: Any = Renderer(out, err_console, markdown=markdown, show_reasoning=show_reasoning)
    if shape.json_lines:
        from ..chat.jsonl import JsonLinesRenderer

        renderer = JsonLinesRenderer(err=err_console)
    shown: Any = oneshot.HeldText(renderer) if shape.schema and not shape.json_lines else renderer
    for notice in message.notices:
        renderer.notice(notice)
    from ..chat.turn import ChatEngine, EngineConfig, TurnOptions
    from ..gateway.endpoint import missing_cloud_settings, resolve_endpoint

    store = open_store(settings)
    sid = parse_session_id(session_id) if session_id is not None else new_session_id()
    endpoint = None

    async def one_turn() -> TurnRecord:
        nonlocal endpoint
        await store.open()  # a bad store fails here, before any gateway is started
        info = await store.get_session(sid) if session_id is not None else None
        if session_id is not None and info is None:
            raise KaiwaError(
                f"no session {sid} in {store.location}",
                "check the id (or SESSION_DB_PATH); omit --session-id to start a new conversation",
            )
        if shape.json_lines:
            renderer.session(sid, model, info is None)
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
        stored = info.instructions if info is not None else None
        options = TurnOptions(
            model=model,
            reasoning=reasoning,
            instructions=oneshot.instructions_for(shape, settings, info is None, stored),
            temperature=shape.temperature,
            max_output_tokens=shape.max_output_tokens,
            output_type=shape.schema.output_type() if shape.schema else None,
        )
        async with ChatEngine(config, lambda line: renderer.notice(line, "yellow")) as engine:
            result = await engine.run_turn(
                store,
                sid,
                message.turn_input(),
                options,
                shown,
                on_wait=lambda: renderer.notice(f"waiting: another kaiwa process is in a turn on session {sid}"),
            )
            if info is not None and shape.system is not None and shape.system != stored:
                await store.set_instructions(sid, shape.system)  # --system on a resumed session changes it
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
    usage = record_usage_line(record)
    oneshot.show_result(shape, renderer, sid, record, shown.answer, usage)


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
            "--input",
            "-i",
            help='The message, e.g. --input "こんにちは"; "-" reads it from stdin. Text piped with --input follows'
            " it as a document (git diff | chat.py -i 'write the commit message'); without --input it is the message.",
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
    attach: Annotated[
        list[str] | None,
        typer.Option(
            "--attach",
            "-a",
            metavar="FILE",
            help="Attach a file (repeatable): text files by name, PNG/JPEG/WebP/GIF images, PDFs. e.g. -a shot.png",
        ),
    ] = None,
    system: Annotated[
        str | None,
        typer.Option("--system", help="Instructions for the session (KAIWA_SYSTEM); kept with it and on resume."),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", help="0-2 (KAIWA_TEMPERATURE); dropped by models that refuse it.")
    ] = None,
    max_output_tokens: Annotated[
        int | None, typer.Option("--max-output-tokens", help="Cap the answer's length (KAIWA_MAX_OUTPUT_TOKENS).")
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="FILE|FIELDS",
            help="Answer as JSON following a JSON Schema file, or fields: --schema 'title: str, tags: list[str]'.",
        ),
    ] = None,
    json_lines: Annotated[
        bool, typer.Option("--json", help="JSON Lines on stdout: session, text deltas, tool calls, done or error.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Send one message and stream the answer; the session id is printed as SESSION_ID=… on stderr."""
    if ctx.invoked_subcommand is not None:
        return
    text: str | None = input if input != "-" else None
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
        shape = oneshot.make_shape(settings, system, temperature, max_output_tokens, schema, json_lines)
        if input is None and sys.stdin is not None and sys.stdin.isatty():  # a terminal: the interactive mode
            from ..chat.repl import ReplOptions, run_repl

            options = ReplOptions(
                session_id=session_id, continue_latest=continue_latest, model=model or settings.model,
                reasoning=(reasoning or "").lower() or settings.reasoning, use_tools=not no_tools,
                mcp_config=mcp_config, show_reasoning=not hide_reasoning, plain=plain, debug=debug,
                instructions=system, temperature=shape.temperature, max_output_tokens=shape.max_output_tokens,
                attach=list(attach or []),
            )  # fmt: skip
            exit_code = run_repl(settings, options)
            if exit_code:
                raise typer.Exit(exit_code)
            return
        message = oneshot.read_message(input, attach)
        text = message.text
        _turn(
            settings,
            message,
            session_id,
            model or settings.model,
            (reasoning or "").lower() or settings.reasoning,
            not no_tools,
            mcp_config,
            not hide_reasoning,
            plain,
            shape,
        )
    except typer.Exit:
        raise
    except KaiwaError as exc:
        if json_lines:
            oneshot.json_error(exc)
        raise fail(exc, debug, None if isinstance(exc, UsageError | oneshot.AnswerRejected) else text) from None
    except Exception as exc:  # a bug, not the user's doing: still one line, details with --debug
        if debug:
            raise
        bug = KaiwaError(f"unexpected {type(exc).__name__}: {exc}", "run again with --debug and report it")
        if json_lines:
            oneshot.json_error(bug)
        raise fail(bug, False, text) from None
    except KeyboardInterrupt:
        interrupted = KaiwaError("interrupted", "nothing was saved for this turn; the session is as it was", 130)
        if json_lines:
            oneshot.json_error(interrupted)
        raise fail(interrupted, False, text) from None
