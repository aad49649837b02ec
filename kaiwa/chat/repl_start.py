"""Starting the interactive mode: the store, the session (`-s`, `-c` or new), the endpoint, the signal handlers,
the greeting, then the engine (SDK, HTTP pool, MCP servers) for the whole REPL — and every way out of it:
/exit, Ctrl-D, an exception, SIGTERM and SIGHUP (the signal cancels the main task, so `ChatEngine.__aexit__`
stops the MCP servers)."""

from __future__ import annotations

import asyncio
import shlex
import signal
from typing import Any

from rich.console import Console
from rich.text import Text

from ..errors import KaiwaError
from ..settings import Settings
from ..store.base import SessionInfo
from .repl import Repl, ReplOptions


async def start(settings: Settings, options: ReplOptions) -> int:
    from .repl_store import open_repl_store

    err = Console(stderr=True)
    mcp_specs: list[Any] = []
    if options.use_tools:
        from ..tools.mcp_config import default_mcp_config_path, load_mcp_config

        chosen = options.mcp_config or settings.mcp_config
        mcp_specs = load_mcp_config(chosen or default_mcp_config_path(), missing_ok=chosen is None)
    store = await open_repl_store(settings, lambda line: err.print(Text(line, style="yellow"), highlight=False))
    try:
        return await _run_on(settings, options, store, mcp_specs, err)
    finally:
        await store.close()


async def _run_on(settings: Settings, options: ReplOptions, store: Any, mcp_specs: list[Any], err: Console) -> int:
    from ..gateway.endpoint import missing_cloud_settings, resolve_endpoint
    from .repl_store import pick_session
    from .turn import ChatEngine, EngineConfig

    info = await pick_session(store, options.session_id, options.continue_latest)
    endpoint = resolve_endpoint(settings, lambda line: err.print(Text(line, style="dim"), highlight=False))
    if endpoint.managed and options.model != "local" and (missing := missing_cloud_settings(options.model)):
        raise KaiwaError(
            f"the model {options.model!r} needs {', '.join(missing)} in .env.litellm",
            "add them (see .env.litellm.example), or try --model local",
        )
    repl = Repl(settings, options, store, endpoint)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    loop.add_signal_handler(signal.SIGINT, repl.on_sigint)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, repl.on_stop, signum, main)
    aliases = asyncio.create_task(repl.fetch_aliases())
    config = EngineConfig(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        use_tools=options.use_tools,
        mcp_specs=mcp_specs,
    )
    try:
        if info is not None:
            await repl.open_session(info)
            if options.instructions and options.instructions != info.instructions:
                await store.set_instructions(info.session_id, options.instructions)
                repl.instructions = options.instructions
        else:
            repl.new_session()
        await repl.refresh_recent()
        greeting(repl, info)  # before the SDK's import and the MCP servers' start: the user sees it at once
        if options.attach:
            from . import repl_commands

            await repl_commands.dispatch(repl, "/attach " + " ".join(shlex.quote(path) for path in options.attach))
        async with ChatEngine(config, lambda line: repl.say(line, "yellow")) as engine:
            repl.engine = engine
            await repl.loop()
    except asyncio.CancelledError:
        if repl.stop_signal is None:
            raise
        main.uncancel()
        repl.goodbye()
        return 128 + repl.stop_signal
    finally:
        aliases.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    repl.goodbye()
    return 0


def greeting(repl: Repl, info: SessionInfo | None) -> None:
    where = "a new session" if info is None else "a resumed session"
    repl.err.print(
        Text.assemble(
            ("kaiwa", "bold"),
            f" · {repl.model} · {where} · ",
            ("/help", "bold"),
            " for commands · Ctrl-D or /exit to leave",
            style="dim",
        ),
        highlight=False,
        soft_wrap=True,
    )
    if info is not None:
        repl.describe(info)
