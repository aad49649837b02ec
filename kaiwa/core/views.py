"""What a face can ask a `Conversation` besides sending turns, as plain data: the tools the model may call and what
each will do when called, the session's usage with the proxy's prices. (The context meter and budget figures
belong here too, as their own frozen dataclasses and `Conversation` queries.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..store.base import SessionDump

if TYPE_CHECKING:
    from ..gateway.proxy_info import Prices
    from ..store.base import TurnRecord

AsText = Callable[[SessionDump, int], str]  # a session (and how many turns to leave out) → the text a summariser reads


@dataclass(frozen=True)
class Compacted:
    """A compaction: the new session (stored), its summary, and the oldest turns that did not fit the model."""

    dump: SessionDump
    summary: str
    left_out_turns: int


@dataclass(frozen=True)
class ToolInfo:
    """A tool the model may call. `server`: its MCP server ("" for a built-in); `action`: what a call does (runs,
    asks first, or is declined); `why`: the rule that decided it ("" when it asks)."""

    name: str
    server: str
    action: Literal["run", "ask", "decline"]
    why: str
    description: str


@dataclass(frozen=True)
class ServerUnlisted:
    """An MCP server that did not list its tools (`problem`: the exception's type name)."""

    server: str
    problem: str


@dataclass(frozen=True)
class Tools:
    """The tools of the next turn, in order: built-ins, then each MCP server's. `off_by_role`: when there are none,
    the role that turned them off (None: --no-tools)."""

    enabled: bool
    entries: tuple[ToolInfo | ServerUnlisted, ...] = ()
    off_by_role: str | None = None


@dataclass(frozen=True)
class SessionUsage:
    """The session's turns, and the proxy's prices when they matter (the session read from or wrote to the prompt
    cache: what caching saved is priced per model); None when the proxy would not say or was not asked."""

    turns: tuple[TurnRecord, ...]
    prices: dict[str, Prices] | None = None
