"""Copies of a conversation's session: fork, compact, and `/retry` of a compaction (the summary written again from
the original). A part of `Conversation`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..errors import KaiwaError
from ..store.base import Item, SessionInfo, Store
from .compact import REQUEST, AsText, Compacted, compact, compacted_from

if TYPE_CHECKING:
    from .engine import ChatEngine


class SessionCopies:
    """The copying methods of `Conversation` (which sets these attributes and has these methods)."""

    store: Store
    info: SessionInfo | None
    session_id: str

    # Defined by Conversation (listed for the type checker).
    @property
    def model(self) -> str:
        raise NotImplementedError

    async def start(self) -> ChatEngine:
        raise NotImplementedError

    def explain(self, exc: BaseException) -> KaiwaError:
        raise NotImplementedError

    async def open(self, info: SessionInfo) -> None:
        raise NotImplementedError

    async def last_exchange(self) -> tuple[int, Item]:
        raise NotImplementedError

    async def fork(self) -> SessionInfo:
        """Continue in a copy of the whole session (items, turns, instructions); the original is untouched."""
        from ..store.dump import fork, load

        if self.info is None:
            raise KaiwaError("nothing to fork yet", "send a message first")
        copy = fork(await load(self.store, self.info))
        await self.store.create_session(copy)
        info = await self._stored(copy.info.session_id)
        await self.open(info)
        return info

    async def compact(self, as_text: Any, notice: Any) -> tuple[SessionInfo, Compacted]:
        """Continue in a new session that starts from a summary of this one (`as_text`: a session dump → the
        transcript the summariser reads)."""
        from .compact import compact_session

        if self.info is None:
            raise KaiwaError("nothing to compact yet", "send a message first")
        try:
            engine = await self.start()
            compacted = await compact_session(self.store, self.info, engine, model=self.model, as_text=as_text,
                                              notice=notice)  # fmt: skip
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise self.explain(exc) from exc
        info = await self._stored(compacted.dump.info.session_id)
        await self.open(info)
        return info, compacted

    async def _stored(self, session_id: str) -> SessionInfo:
        stored = await self.store.get_session(session_id)
        if stored is None:
            raise KaiwaError(f"the new session {session_id} was not stored", "try again")
        return stored

    async def summary_source(self) -> SessionInfo | None:
        """The session `conversation`'s last exchange summarises, when that exchange is its compaction (then `/retry`
        writes the summary again from it, instead of sending the bare request without the transcript)."""
        info = self.info
        source = compacted_from(info.origin) if info is not None else None
        if source is None:
            return None
        index, message = await self.last_exchange()
        if index != 0 or message.get("content") != REQUEST:
            return None  # the conversation went on after the summary: an ordinary retry
        original = await self.store.get_session(source)
        if original is None:
            raise KaiwaError(
                f"the session this one summarises ({source[-8:]}) is gone, so there is nothing to summarise again",
                "/undo removes the summary, /new starts afresh",
            )
        return original

    async def resummarise(self, original: SessionInfo, as_text: AsText, notice: Any) -> Compacted:
        """The summary written again from `original`, replacing the conversation's compaction exchange and its record
        in one transaction (its cost recorded like any turn's)."""
        from ..store.dump import load

        info, store = self.info, self.store
        assert info is not None
        try:
            engine = await self.start()
            compacted = await compact(await load(store, original), engine, model=self.model, as_text=as_text,
                                      notice=notice)  # fmt: skip
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise self.explain(exc) from exc
        [record] = compacted.dump.turns
        await store.commit_turn(self.session_id, compacted.dump.items, record, title=info.title,
                                instructions=info.instructions, replace_from=0)  # fmt: skip
        await self.open(await store.get_session(self.session_id) or info)
        return compacted
