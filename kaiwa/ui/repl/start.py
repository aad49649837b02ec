"""Starting the interactive mode: the conversation (store, session from `-s`/`-c` or new, endpoint), the signal
handlers, the greeting, then the engine (SDK, HTTP pool, MCP servers) for the whole REPL — and every way out of
it: /exit, Ctrl-D, an exception, SIGTERM and SIGHUP (the signal cancels the main task, so the conversation's
engine stops the MCP servers)."""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from ...errors import KaiwaError
from ..face import Face
from ..terminal import Renderer
from .state import Repl

if TYPE_CHECKING:
    from ...core.events import Answer, ApprovalRequested, Event
    from ...core.options import Setup
    from ...settings import Settings

__all__ = ["run_repl", "start"]


def run_repl(settings: Settings, setup: Setup, face: Face) -> int:
    """The interactive mode; returns the exit code (0, or 128+signal after SIGTERM/SIGHUP)."""
    if sys.platform == "win32":  # pragma: no cover - loop.add_signal_handler is POSIX only
        raise KaiwaError("the interactive mode needs a POSIX terminal", 'use --input "…" instead')
    return asyncio.run(start(settings, setup, face))


async def start(settings: Settings, setup: Setup, face: Face) -> int:
    from ...core.protocol import open_conversation
    from .app import loop as repl_loop

    repl: Repl | None = None
    # What is said before the REPL exists (a store warning, the gateway starting) is shown at once, as it happens:
    # the set-up may take a while, or fail.
    early = Renderer(Console(soft_wrap=False), Console(stderr=True), markdown=False)

    def emit(event: Event) -> None:
        if repl is None:
            early(event)
        else:
            repl.notice(event)

    async def approve(request: ApprovalRequested) -> Answer:  # asked in the REPL, which exists by any turn
        assert repl is not None
        return await repl.approve(request)

    async with open_conversation(settings, setup, emit, approve) as conversation:
        repl = Repl(conversation, face)
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None
        loop.add_signal_handler(signal.SIGINT, repl.on_sigint)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, repl.on_stop, signum, main)
        aliases = asyncio.create_task(repl.fetch_aliases())
        try:
            if conversation.info is not None and (setup.instructions or setup.role is not None):
                await conversation.save_role()  # --system or -r on a resumed session: stored at once, as /role
            await repl.refresh_recent()
            greeting(repl)  # before the SDK's import and the MCP servers' start: the user sees it at once
            if face.attach:
                from .registry import dispatch

                await dispatch(repl, "/attach " + " ".join(shlex.quote(path) for path in face.attach))
            await conversation.start()
            await repl_loop(repl)
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


def greeting(repl: Repl) -> None:
    info = repl.info
    where = "a new session" if info is None else "a resumed session"
    role = f" · role {repl.conversation.role.name}" if repl.conversation.role is not None else ""
    repl.err.print(
        Text.assemble(
            ("kaiwa", "bold"),
            f" · {repl.model}{role} · {where} · ",
            ("/help", "bold"),
            " for commands · Ctrl-D or /exit to leave",
            style="dim",
        ),
        highlight=False,
        soft_wrap=True,
    )
    if info is not None:
        repl.describe(info)
