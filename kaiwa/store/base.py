"""The one interface every session store implements (SQLite and Postgres alike).

The conversation items themselves live in the Agents SDK's own tables (`agent_sessions`, `agent_messages`, one
JSON item per row, exactly as the SDK's `SQLiteSession` / `SQLAlchemySession` write them), so the SDK's session
classes can read them back; kaiwa keeps what users need on top (`kaiwa_sessions`, `kaiwa_turns`).

A turn is atomic: the turn's items are buffered in memory while the model answers (see `core/turn_buffer.py`) and
written by `commit_turn` in ONE transaction together with kaiwa's rows. A process that dies mid-turn therefore
leaves the session exactly as it was — nothing to clean up afterwards.

Nothing here imports the Agents SDK, openai or SQLAlchemy: `sessions list` and friends stay cheap.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Any

Item = dict[str, Any]  # one Responses input item, as the SDK stores it (JSON object)

# A stored time is believed from 1970 to a day ahead of this machine's clock (clocks differ): a session "used" in
# year 9999 would sort first for everyone forever (`-c` would pick it) and cannot be shown as a date.
TIME_AHEAD = 86400.0


def latest_time() -> float:
    """The latest stored time believed now (seconds since the epoch)."""
    import time

    return time.time() + TIME_AHEAD


TITLE_LENGTH = 60
_CONTROLS = {c: " " for c in [*range(0x20), 0x7F]}


def make_title(text: str) -> str:
    """The first line of `text`, whitespace collapsed and control characters (a NUL from a piped file) made
    spaces, at most TITLE_LENGTH characters: the same title on every backend."""
    line = " ".join(text.translate(_CONTROLS).split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"


@dataclass(frozen=True)
class TurnRecord:
    """What kaiwa keeps per turn beside the items: usage, cost, the proxy's call ids, duration."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost: float | None = None
    request_ids: tuple[str, ...] = ()
    duration_ms: int = 0
    created_at: float = 0.0  # set by the store when 0
    cache_write_tokens: int = 0  # input tokens written to the provider's prompt cache (Anthropic, Bedrock)
    spender: str = ""  # who paid: a fingerprint of the proxy key (core/spending.py), never the key; "" unknown
    attempts: int = 1  # model attempts the turn took: more than 1 when a stream broke off and was tried again
    # "": complete; "length": the answer stopped at its output limit; "failed": the turn failed after tools ran
    # (their calls and results are kept, and a retry continues from them)
    outcome: str = ""

    def replacing(self, earlier_cost: float | None) -> TurnRecord:
        """This record in place of a replaced answer's (/retry) that cost `earlier_cost`: both attempts were paid
        for, so the spend the caps count keeps both (else retrying would spend without limit)."""
        if earlier_cost is None:
            return self
        return replace(self, cost=(self.cost or 0.0) + earlier_cost)


@dataclass(frozen=True)
class ModelSpend:
    """What one model cost over a period (`Store.spend`)."""

    model: str
    cost: float = 0.0  # the priced turns' total
    turns: int = 0
    unpriced_turns: int = 0  # turns the proxy gave no cost for
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    created_at: float
    updated_at: float
    model: str
    title: str
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    instructions: str | None = None  # the session's system prompt (None: kaiwa's default)
    origin: str | None = None  # e.g. "fork of <id>", "compacted from <id>", "imported"
    role: str | None = None  # the role (roles/NAME.md) the session runs as; None: none

    @property
    def short_id(self) -> str:
        return self.session_id[-8:]


@dataclass(frozen=True)
class SearchHit:
    session: SessionInfo
    snippet: str


@dataclass
class SessionDump:
    """A whole session, lossless: what export writes, import/fork/migrate read, `create_session` stores."""

    info: SessionInfo
    items: list[Item] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    compaction: Compaction | None = None  # the newest in-place compaction (what is sent instead of older items)


@dataclass(frozen=True)
class Compaction:
    """What is sent upstream instead of a session's older items (issue 25, in-place compaction): `summary`, the
    model's summary as items, then the stored items from `first_kept` on. The stored transcript is untouched.
    `tokens_before` / `tokens_after`: the context before and (estimated) after; `cost`: the summary call's."""

    summary: list[Item]
    first_kept: int
    tokens_before: int = 0
    tokens_after: int = 0
    cost: float | None = None
    created_at: float = 0.0


class Store(ABC):
    """A session store. Every method may raise `KaiwaError` (one line for the user); none leaks a secret."""

    #: Where the store lives, safe to print (a path, or a URL with the password masked).
    location: str
    #: Whether several people's turns share it (a team's Postgres): spending then counts only the user's own.
    shared: bool = False

    # -- lifecycle ---------------------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None:
        """Check the store and create or migrate kaiwa's tables (in a transaction). Bad stores: KaiwaError."""

    @abstractmethod
    async def close(self) -> None: ...

    # -- reading -----------------------------------------------------------------------------------
    @abstractmethod
    async def list_sessions(self, limit: int | None = None) -> list[SessionInfo]:
        """Most recently used first; sessions whose times are out of range are left out (`unlisted`)."""

    @abstractmethod
    async def unlisted(self) -> list[str]:
        """Sessions whose stored times are out of range (see `latest_time`): `list_sessions` leaves them out so one
        bad row never breaks a listing or `-c`; callers say so."""

    @abstractmethod
    async def get_session(self, session_id: str) -> SessionInfo | None: ...

    @abstractmethod
    async def find_sessions(self, fragment: str, limit: int = 10) -> list[SessionInfo]:
        """Sessions whose id contains `fragment` (case-insensitive), most recent first."""

    @abstractmethod
    async def items(self, session_id: str) -> list[Item]:
        """The session's items in order, as the SDK stored them."""

    @abstractmethod
    async def turns(self, session_id: str) -> list[TurnRecord]: ...

    @abstractmethod
    async def spend(self, since: float, spender: str | None = None) -> list[ModelSpend]:
        """Turns recorded at or after `since` (epoch seconds), summed per model; `spender` set: only theirs."""

    @abstractmethod
    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Full-text search over message text (SQLite FTS5 / Postgres tsvector), newest session first."""

    # -- the turn ----------------------------------------------------------------------------------
    @abstractmethod
    def lock(
        self, session_id: str, on_wait: Callable[[], None] | None = None, timeout: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        """Serialise turns per session across processes (and machines, on Postgres). Calls `on_wait` once if
        another holder is seen; raises KaiwaError after `timeout` seconds (None: the store's KAIWA_LOCK_TIMEOUT,
        else 120 s)."""

    @abstractmethod
    async def commit_turn(
        self,
        session_id: str,
        items: list[Item],
        record: TurnRecord,
        *,
        title: str,
        instructions: str | None = None,
        replace_from: int | None = None,
        role: str | None = None,
    ) -> None:
        """In ONE transaction: create the session if new (with `title`, `instructions`, `role`), append `items`,
        add the turn's record, bump `updated_at`. A `role` given for an existing session replaces its role (None
        leaves it). `replace_from`: first delete the items from that index on (and the last turn record) —
        `/retry` replaces the last exchange atomically."""

    # -- managing sessions ---------------------------------------------------------------------------
    @abstractmethod
    async def create_session(self, dump: SessionDump) -> None:
        """Store a whole session (import, fork, compact, migrate) in one transaction. KaiwaError if the id
        exists."""

    @abstractmethod
    async def rename(self, session_id: str, title: str) -> None: ...

    @abstractmethod
    async def set_instructions(self, session_id: str, instructions: str | None) -> None: ...

    @abstractmethod
    async def set_role(self, session_id: str, role: str | None) -> None:
        """The session's role (None: no role). KaiwaError if there is no such session."""

    @abstractmethod
    async def set_origin(self, session_id: str, origin: str | None) -> None:
        """Where the session came from (`sessions show` says it; an editor's session: the folder it was opened
        in). KaiwaError if there is no such session."""

    @abstractmethod
    async def truncate(self, session_id: str, keep_items: int, keep_turns: int) -> None:
        """Keep only the first `keep_items` items and `keep_turns` turn records (`/undo`), in one transaction."""

    @abstractmethod
    async def delete(self, session_ids: list[str]) -> int:
        """Remove the sessions and everything stored for them, in one transaction; returns how many."""

    @abstractmethod
    async def compaction(self, session_id: str) -> Compaction | None:
        """The session's newest compaction (what is sent instead of its older items), or None."""

    @abstractmethod
    async def add_compaction(self, session_id: str, compaction: Compaction) -> None:
        """A new compaction for the session; the one before stays, for `drop_compaction`."""

    @abstractmethod
    async def drop_compaction(self, session_id: str) -> bool:
        """Undo the newest compaction (the one before, if any, applies again); False when there is none."""
