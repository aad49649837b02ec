"""One editor session: a kaiwa `Conversation` kept open between prompts, its turns, and its questions.

Updates leave in order through one queue per agent (the core's `emit` is synchronous, the protocol is not); a
prompt answers only once its updates are written. A permission request first lets the call's `tool_call` out.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from acp import schema as s

from ...core.events import Answer, ApprovalRequested, Event, Notice, TurnCompleted, TurnFailed
from ...errors import KaiwaError
from .content import Update, permission_call, update_for

if TYPE_CHECKING:
    from ...core.protocol import Conversation

ORIGIN = "acp in "  # a stored session's origin: "acp in /the/folder" (its cwd)

# The options of a permission request, as ACP names them, and what each is to kaiwa's approvals.
OPTIONS: tuple[tuple[str, str, Answer], ...] = (
    ("allow_once", "Allow", "allow"),
    ("allow_always", "Allow for this session", "allow_tool"),
    ("reject_once", "Reject", "decline"),
    ("reject_always", "Reject for this session", "decline"),
)


def say(line: str) -> None:
    """A line for whoever reads the agent's stderr (an editor's log)."""
    print(f"kaiwa: {line}", file=sys.stderr, flush=True)


def on_notice(event: Event) -> None:
    if isinstance(event, Notice):
        say(event.line)


class Outbox:
    """Updates to the client, in order."""

    def __init__(self, send: Callable[[str, Update], Awaitable[None]]) -> None:
        self._send = send
        self._queue: asyncio.Queue[tuple[str, Update]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def put(self, session_id: str, update: Update) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())
        self._queue.put_nowait((session_id, update))

    async def flushed(self) -> None:
        if self._task is not None:
            await self._queue.join()

    async def _drain(self) -> None:
        while True:
            session_id, update = await self._queue.get()
            try:
                await self._send(session_id, update)
            except Exception as exc:  # a client gone mid-turn: the turn's own outcome still decides
                say(f"could not send an update: {exc}")
            finally:
                self._queue.task_done()


@dataclass
class AcpSession:
    conversation: Conversation
    stack: AsyncExitStack
    cwd: str
    outbox: Outbox
    ask: Callable[[str, s.ToolCallUpdate, list[s.PermissionOption]], Awaitable[Any]]
    turn: asyncio.Task[TurnCompleted | TurnFailed] | None = None
    rejected: set[str] = field(default_factory=set)  # tools rejected for the rest of the session

    @property
    def session_id(self) -> str:
        return self.conversation.session_id

    def emit(self, event: Event) -> None:
        if (update := update_for(event)) is not None:
            self.outbox.put(self.session_id, update)
        else:
            on_notice(event)

    async def approve(self, request: ApprovalRequested) -> Answer:
        """The client's answer for a call the policy asks about (`allow_always` is granted by the core)."""
        if request.name in self.rejected:
            return "decline"
        await self.outbox.flushed()  # the editor has seen the call before it is asked about it
        options = [s.PermissionOption(option_id=kind, name=name, kind=kind) for kind, name, _ in OPTIONS]  # type: ignore[arg-type]
        answer = await self.ask(self.session_id, permission_call(request.call_id, request.name, request.arguments),
                                options)  # fmt: skip
        outcome = answer.outcome
        if isinstance(outcome, s.DeniedOutcome):  # the client cancelled the prompt
            raise asyncio.CancelledError
        if outcome.option_id == "reject_always":
            self.rejected.add(request.name)
        return next((ours for kind, _, ours in OPTIONS if kind == outcome.option_id), "decline")

    async def run(self, user_input: Any) -> TurnCompleted | TurnFailed | None:
        """One turn; None when it was cancelled (nothing of it stored)."""
        if self.turn is not None and not self.turn.done():
            raise KaiwaError("a prompt is already running in this session", "wait for it, or cancel it")
        self.turn = asyncio.get_running_loop().create_task(self.conversation.send(user_input, self.emit))
        try:
            result = await self.turn
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the agent itself is stopping
            result = None
        finally:
            await self.outbox.flushed()
        return result

    def cancel(self) -> None:
        if self.turn is not None and not self.turn.done():
            self.turn.cancel()

    async def close(self) -> None:
        self.cancel()
        await self.stack.aclose()
