"""The REPL's way to the store, to session names (`store.naming`) and to copies of a session (`store.dump`,
`chat.compact`): the same code as `chat.py sessions …`."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import KaiwaError
from ..settings import Settings
from ..store.base import SessionInfo, Store


async def open_repl_store(settings: Settings, warn: Callable[[str], None]) -> Store:
    from ..store import open_store

    store = open_store(settings, warn)
    await store.open()
    return store


async def pick_session(store: Store, ref: str | None, continue_latest: bool) -> SessionInfo | None:
    """`--session-id REF` (full id, short id, unique fragment) or `-c`; None for a new session."""
    from ..store.naming import pick

    return await pick(store, ref, continue_latest)


async def resolve_session(store: Store, ref: str) -> SessionInfo:
    from ..store.naming import resolve

    return await resolve(store, ref)


async def stored_copy(store: Store, session_id: str) -> SessionInfo:
    stored = await store.get_session(session_id)
    if stored is None:
        raise KaiwaError(f"the new session {session_id} was not stored", "try again")
    return stored


async def fork_session(store: Store, info: SessionInfo) -> SessionInfo:
    """A copy of the whole session (items, turns, instructions) under a new id; the original is untouched."""
    from ..store.dump import fork, load

    copy = fork(await load(store, info))
    await store.create_session(copy)
    return await stored_copy(store, copy.info.session_id)
