"""Copies of a conversation's session: fork, compact, and `/retry` of a compaction (the summary written again from
the original). Functions of the store and the session they copy; `Conversation` calls them and moves to the copy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import KaiwaError
from ..store.base import Item, SessionInfo, Store
from .compact import REQUEST, compact, compacted_from
from .views import AsText, Compacted

if TYPE_CHECKING:
    from .engine import ChatEngine


async def fork(store: Store, info: SessionInfo) -> SessionInfo:
    """A copy of the whole session (items, turns, instructions), stored; the original is untouched."""
    from ..store.dump import fork as forked
    from ..store.dump import load

    copy = forked(await load(store, info))
    await store.create_session(copy)
    return await stored(store, copy.info.session_id)


async def compact_copy(
    store: Store, info: SessionInfo, engine: ChatEngine, model: str, as_text: Any, notice: Any
) -> tuple[SessionInfo, Compacted]:
    """A new session that starts from a summary of `info` (`as_text`: a session dump → the transcript the
    summariser reads), stored."""
    from .compact import compact_session

    compacted = await compact_session(store, info, engine, model=model, as_text=as_text, notice=notice)
    return await stored(store, compacted.dump.info.session_id), compacted


async def stored(store: Store, session_id: str) -> SessionInfo:
    found = await store.get_session(session_id)
    if found is None:
        raise KaiwaError(f"the new session {session_id} was not stored", "try again")
    return found


async def summary_source(store: Store, info: SessionInfo, exchange: tuple[int, Item]) -> SessionInfo | None:
    """The session `info`'s last exchange summarises, when that exchange (`exchange`: where it starts, its
    message) is its compaction (then `/retry` writes the summary again from it, instead of sending the bare
    request without the transcript)."""
    source = compacted_from(info.origin)
    if source is None:
        return None
    index, message = exchange
    if index != 0 or message.get("content") != REQUEST:
        return None  # the conversation went on after the summary: an ordinary retry
    original = await store.get_session(source)
    if original is None:
        raise KaiwaError(
            f"the session this one summarises ({source[-8:]}) is gone, so there is nothing to summarise again",
            "/undo removes the summary, /new starts afresh",
        )
    return original


async def resummarise(
    store: Store, info: SessionInfo, original: SessionInfo, engine: ChatEngine, model: str, as_text: AsText,
    notice: Any,
) -> Compacted:  # fmt: skip
    """The summary written again from `original`, replacing `info`'s compaction exchange and its record in one
    transaction (its cost recorded like any turn's)."""
    from ..store.dump import load

    compacted = await compact(await load(store, original), engine, model=model, as_text=as_text, notice=notice)
    [record] = compacted.dump.turns
    await store.commit_turn(info.session_id, compacted.dump.items, record, title=info.title,
                            instructions=info.instructions, replace_from=0)  # fmt: skip
    return compacted
