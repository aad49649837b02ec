"""The one way into the core: the `Conversation` protocol faces hold, and `open_conversation()`, which builds one
whole. Faces (kaiwa/ui, kaiwa/cli) import this module, `events.py`, `views.py`, `options.py` and the plain helpers
(`history`, `inputs`, `outcome`), never the engine: `.importlinter` holds them to it, with one seam — this module
starting the implementation (`opening.py`, `conversation.py`) when a conversation opens.

Everything a face gets back is plain data: events (`events.py`), answers to its questions (`views.py`), the store's
`SessionInfo` / `TurnRecord` and the `TurnOptions` of the next turn. How to add a question: a method here (and in
`conversation.py`), returning a frozen dataclass from `views.py` (e.g. the context meter, budget figures).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..errors import KaiwaError
    from ..roles import Role
    from ..settings import Settings
    from ..store.base import Item, SessionInfo, TurnRecord
    from .events import Approver, Emit, TurnCompleted, TurnFailed
    from .options import Setup, TurnOptions
    from .usage_report import UsageReport
    from .views import AsText, Compacted, SessionUsage, Tools


class Conversation(Protocol):
    """One session at a time, the choices its next turn is sent with, and the engine that sends it."""

    # -- where it stands (plain data) ----------------------------------------------------------------
    @property
    def session_id(self) -> str: ...
    @property
    def info(self) -> SessionInfo | None:
        """The stored session's figures; None until a new session's first turn is stored."""

    @property
    def last_answer(self) -> str: ...
    @property
    def options(self) -> TurnOptions:
        """What the next turn is sent with (model, reasoning, verbosity, instructions, role, …)."""

    @property
    def model(self) -> str: ...
    @property
    def instructions(self) -> str | None: ...
    @property
    def role(self) -> Role | None: ...
    @property
    def uses_tools(self) -> bool: ...
    @property
    def mcp_servers(self) -> tuple[str, ...]:
        """The names of the MCP servers the next turn connects."""

    # -- questions -----------------------------------------------------------------------------------
    async def tools(self) -> Tools:
        """The tools the next turn offers the model, and what a call of each will do (starts the engine)."""

    async def usage(self) -> SessionUsage:
        """The session's turns, with the proxy's prices when the prompt cache was used."""

    async def usage_report(self) -> UsageReport:
        """Spend today and this month, by model, against the spending caps, with this session's figures."""

    async def aliases(self) -> list[str]:
        """The proxy's model aliases ([] when it will not say)."""

    async def items(self) -> list[Item]: ...
    async def turns(self) -> list[TurnRecord]: ...
    async def recent(self, limit: int = 50) -> list[SessionInfo]: ...
    async def last_exchange(self) -> tuple[int, Item]:
        """Where the last exchange starts, and its user message."""

    async def summary_source(self) -> SessionInfo | None:
        """The session this one's last exchange summarises, when that exchange is its compaction."""

    def explain(self, exc: BaseException) -> KaiwaError:
        """An exception met outside a turn, as the one-line failure."""

    # -- choices for the next turn -------------------------------------------------------------------
    def set_model(self, model: str) -> None: ...
    def set_reasoning(self, effort: str | None) -> None: ...
    def set_verbosity(self, level: str | None) -> None: ...
    async def set_instructions(self, text: str | None) -> None: ...
    async def use_role(
        self, role: Role | None, given: frozenset[str] = frozenset(), *, keep_instructions: bool = False
    ) -> None: ...
    async def save_role(self) -> None: ...

    # -- sessions and turns --------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the engine now (the SDK, the HTTP pool, the MCP servers); else the first turn does."""

    def new(self, instructions: str | None = None) -> None: ...
    async def resume(self, ref: str) -> SessionInfo: ...
    async def refresh(self) -> str | None:
        """Re-read the session; the deleted session's id if another process deleted it."""

    async def fork(self) -> SessionInfo: ...
    async def compact(self, as_text: AsText, notice: Any) -> tuple[SessionInfo, Compacted]: ...
    async def resummarise(self, original: SessionInfo, as_text: AsText, notice: Any) -> Compacted: ...
    async def send(
        self, user_input: str | list[Item], emit: Emit, *, replace_from: int | None = None
    ) -> TurnCompleted | TurnFailed:
        """One turn: its events through `emit`, then how it ended (also returned)."""

    async def retry(self, emit: Emit) -> TurnCompleted | TurnFailed: ...
    async def undo(self) -> Item: ...
    async def set_origin(self, origin: str) -> None:
        """Say where a stored session came from (an editor's: `acp in` the folder it was opened in)."""

    async def context_window(self) -> int | None:
        """The model's window in tokens, as the proxy states it (None when it does not say)."""


def open_conversation(
    settings: Settings, setup: Setup, emit: Emit, approver: Approver | None = None
) -> AbstractAsyncContextManager[Conversation]:
    """`async with open_conversation(...) as conversation:` the store opened, the session picked (`-s`, `-c` or a
    new one) with its role, the proxy found (maybe starting the local gateway: `GatewayProgress` events); closed
    on every way out. A failure before the conversation exists raises its KaiwaError. `approver`: the face's
    question for a tool call that needs approval (None: such calls are declined)."""
    from . import opening  # the seam: the implementation (and with it the SDK) is loaded from here

    return opening.open_conversation(settings, setup, emit, approver)


async def stored_sessions(settings: Settings, emit: Emit, limit: int | None = None) -> list[SessionInfo]:
    """The stored sessions, most recently used first, without opening a conversation (no gateway, no SDK)."""
    from ..store import open_store
    from .events import Notice

    store = open_store(settings, lambda line: emit(Notice(line, "warning")))
    try:
        await store.open()
        return await store.list_sessions(limit)
    finally:
        await store.close()
