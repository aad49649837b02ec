"""The Agent Client Protocol face (`chat.py acp`): kaiwa as an editor's agent over stdio, on the protocol's own
Python SDK (`agent-client-protocol`). See `agent.py` for the methods, `content.py` for what crosses the wire."""

from __future__ import annotations

import asyncio
import logging
import signal
import warnings
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from ...core.options import Setup
    from ...settings import Settings

__all__ = ["serve"]


def serve(settings: Settings, setup: Setup, debug: bool = False) -> int:
    """Serve one client on stdin/stdout until it closes them; returns the exit code."""
    from .stdio import take_stdout

    protocol_fd = take_stdout()  # before anything else may print
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="kaiwa acp: %(message)s")
    if not debug:
        for name in ("openai.agents", "openai", "httpx2", "mcp"):  # their failures reach the client as one line
            logging.getLogger(name).disabled = True
        warnings.filterwarnings("ignore", message=r"(?s).*Pydantic serializer warnings")
    return asyncio.run(_serve(settings, setup, protocol_fd))


async def _serve(settings: Settings, setup: Setup, protocol_fd: int) -> int:
    import acp

    from .agent import KaiwaAgent
    from .stdio import streams

    agent = KaiwaAgent(settings, setup)
    reader, writer = await streams(protocol_fd)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    stopped: list[int] = []

    def stop(signum: int) -> None:
        stopped.append(signum)
        main.cancel()

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    try:
        await acp.run_agent(cast("acp.Agent", agent), writer, reader)
    except asyncio.CancelledError:
        if not stopped:
            raise
    finally:
        await agent.close_all()  # every MCP server stopped, every store closed
    return 128 + stopped[0] if stopped else 0
