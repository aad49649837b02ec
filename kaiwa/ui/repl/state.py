"""The interactive mode's face: a `Conversation` plus what only a terminal needs (the consoles, the text to put
back on the input line, the files attached to the next message, the toolbar) and the running of a turn so that
Ctrl-C cancels it.

Ctrl-C while an answer streams cancels the turn's task at once; a turn is atomic, so nothing of it is stored,
and its message goes back on the input line. Ctrl-C at the prompt only clears the line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from ...core.events import Answer, ApprovalRequested, Emit, Event, Notice, TurnCompleted, TurnFailed
from ...errors import FLAGS, KaiwaError
from ...redact import redact
from ...words import invocation
from ..face import Face
from ..format import money, plural
from ..sanitize import clean
from ..terminal import Renderer

if TYPE_CHECKING:
    from ...core.protocol import Conversation
    from ...store.base import Item, SessionInfo


RESUME_TAIL = 20  # lines of the last answer shown on resume: all of a usual answer, the end of a long one
# How a failure's hint names an option here: the REPL's command where one does the same, else the flag.
REPL_NAMES = {**FLAGS, "model": "/model", "reasoning": "/reasoning", "system": "/system", "attach": "/attach"}


def as_message(line: str) -> str:
    """What a line typed at the prompt sends: `//text` is the message "/text" (a single / starts a command)."""
    return line[1:] if line.startswith("//") else line


def as_typed(text: str) -> str:
    """A message as it must be typed to be sent again: "/text" goes back as `//text`, never as a command."""
    return "/" + text if text.startswith("/") else text


class Repl:
    def __init__(self, conversation: Conversation, face: Face) -> None:
        self.conversation = conversation
        self.face = face
        self.out = Console(soft_wrap=False)
        self.err = Console(stderr=True)
        self.pending = ""  # text to put back on the input line
        self.session: Any = None  # the prompt_toolkit session, once the loop runs
        self.attachments: list[Any] = []  # /attach: files for the next message (core.inputs.Attachment)
        self.aliases: list[str] = []
        self.recent: list[SessionInfo] = []
        self.stop_signal: int | None = None
        self._turn_task: asyncio.Future[Any] | None = None
        self._interrupted = False

    # -- the conversation, as commands and tests read it ----------------------------------------------
    @property
    def session_id(self) -> str:
        return self.conversation.session_id

    @property
    def info(self) -> SessionInfo | None:
        return self.conversation.info

    @property
    def model(self) -> str:
        return self.conversation.model

    @property
    def reasoning(self) -> str | None:
        return self.conversation.options.reasoning

    @property
    def instructions(self) -> str | None:
        return self.conversation.instructions

    @property
    def last_answer(self) -> str:
        return self.conversation.last_answer

    # -- output ----------------------------------------------------------------------------------------
    def say(self, line: str, style: str = "dim") -> None:
        """One line on stderr; stored text (titles, messages, tool descriptions) in it is shown harmlessly."""
        self.err.print(Text(clean(line), style=style), highlight=False, soft_wrap=True)

    def error(self, failure: KaiwaError | TurnFailed) -> None:
        if self.face.debug:
            cause = failure.cause if isinstance(failure, TurnFailed) else failure
            if cause is not None:  # masked like every other line: exception texts quote URLs and keys
                from ...redact import redacted_traceback

                self.err.print(Text(redacted_traceback(cause)), highlight=False, soft_wrap=True, end="")
        line = redact(failure.line(REPL_NAMES))
        self.err.print(Text(clean(line), style="bold red"), highlight=False, soft_wrap=True)

    def notice(self, event: Event) -> None:
        """Events outside a turn (the store, the gateway, MCP servers)."""
        if isinstance(event, Notice):
            self.say(event.line, "yellow" if event.level == "warning" else "dim")

    def toolbar(self) -> str:
        info = self.info
        parts = [self.model, clean(info.title) if info and info.title else "new"]
        if self.conversation.role is not None:
            parts.insert(1, f"role {clean(self.conversation.role.name)}")
        if info is not None:
            parts.append(plural(info.turns, "turn"))
            parts.append(plural(info.input_tokens + info.output_tokens, "token"))
            if info.cost:
                parts.append(money(info.cost))
        if self.reasoning:
            parts.append(f"reasoning {self.reasoning}")
        if self.attachments:
            parts.append(f"{len(self.attachments)} attached")
        return " " + " · ".join(parts)

    def describe(self, info: SessionInfo) -> None:
        """Where a resumed session stands: title, turns, model, the last answer (its end, when long)."""
        self.say(f"resumed {info.short_id}: “{info.title}” · {plural(info.turns, 'turn')} · last model {info.model}",
                 "bold")  # fmt: skip
        if self.last_answer:  # the whole answer, or its last RESUME_TAIL lines: where the conversation stands
            lines = self.last_answer.strip().splitlines()
            if len(lines) > RESUME_TAIL:
                self.say(f"  │ … ({len(lines) - RESUME_TAIL} earlier lines: /copy takes them all)")
            for line in lines[-RESUME_TAIL:]:
                self.say("  │ " + line)

    async def refresh_recent(self) -> None:
        with contextlib.suppress(Exception):
            self.recent = await self.conversation.recent(50)

    async def fetch_aliases(self) -> list[str]:
        found = await self.conversation.aliases()
        if found:
            self.aliases = found
        return found

    # -- running work so that Ctrl-C stops it ---------------------------------------------------------
    def on_sigint(self) -> None:
        """Ctrl-C outside the input line (the prompt reads it as a key): cancel the running turn, if any."""
        task = self._turn_task
        if task is not None and not task.done():
            self._interrupted = True
            task.cancel()

    def on_stop(self, signum: int, main: asyncio.Task[Any]) -> None:
        self.stop_signal = signum
        main.cancel()

    def unechoed(self) -> contextlib.AbstractContextManager[None]:
        if self.session is None:  # not at a terminal's prompt (tests, bench)
            return contextlib.nullcontext()
        from .input import keys_unechoed

        return keys_unechoed()

    async def foreground(self, work: Awaitable[Any]) -> Any:
        """Run `work` so that Ctrl-C cancels it; None when it was cancelled so (SIGTERM/SIGHUP still raise)."""
        self._interrupted = False
        self._turn_task = task = asyncio.ensure_future(work)
        try:
            with self.unechoed():
                return await task
        except asyncio.CancelledError:
            if not self._interrupted:
                raise
            return None
        finally:
            self._turn_task = None

    async def approve(self, request: ApprovalRequested) -> Answer:
        """The conversation's approver: one line, one key. Ctrl-C there stops the turn, as while it streams."""
        from ..approval import ask

        answer = await ask(request, self.err.width)
        if answer is None:
            self._interrupted = True  # foreground() then reports it as Ctrl-C, not as a signal
            raise asyncio.CancelledError
        return answer

    # -- a turn ------------------------------------------------------------------------------------------
    def renderer(self) -> Renderer:
        return Renderer(
            self.out, self.err, markdown=self.out.is_terminal and not self.face.plain,
            show_reasoning=self.face.show_reasoning,
        )  # fmt: skip

    async def run_turn(self, text: str, turn: Callable[[Emit], Awaitable[TurnCompleted | TurnFailed]]) -> bool:
        """`turn(emit)`: a Conversation turn; `text` goes back on the input line if it does not complete."""
        renderer = self.renderer()

        def emit(event: Event) -> None:
            renderer(event)
            if isinstance(event, TurnFailed):
                self.error(event)

        try:
            result = await self.foreground(turn(emit))
        finally:
            renderer.finish()  # also on Ctrl-C: the partial answer stays visible; nothing of it is stored
        if result is None:
            self.say("interrupted: nothing of this turn was saved; your message is back on the input line", "yellow")
            self.pending = as_typed(text)
            return False
        if isinstance(result, TurnFailed):
            self.pending = as_typed(text)
            return False
        return True

    async def send(self, text: str, user_input: str | list[Item] | None = None) -> bool:
        message = user_input if user_input is not None else text
        return await self.run_turn(text, lambda emit: self.conversation.send(message, emit))

    async def send_message(self, text: str) -> bool:
        """A message typed at the prompt, with what /attach added to it (kept if the turn does not complete)."""
        if not self.attachments:
            return await self.send(text)
        from ...core.inputs import compose_input

        sent = await self.send(text, user_input=compose_input(text, (), self.attachments))
        if sent:
            self.attachments = []
        return sent

    def goodbye(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # SIGHUP: the terminal may be gone
            if self.info is not None:
                self.err.print(f"SESSION_ID={self.session_id}", highlight=False, soft_wrap=True)
                self.say(f"continue it with: {invocation()} -s {self.session_id[-8:]}  (or -c while it is the latest)")
            else:
                self.say("nothing was said, so no session was stored")
