"""The REPL's way to the store, to session names and to copies of a session.

TEMPORARY fallbacks: until `kaiwa.store.naming` and `kaiwa.store.dump` (issue 10) land on main, `/resume` and
`/fork` use the small versions below; they switch to the shared code by themselves once it is there.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from ..errors import KaiwaError
from ..settings import Settings
from ..store.base import SessionDump, SessionInfo, Store


async def open_repl_store(settings: Settings, warn: Callable[[str], None]) -> Store:
    from ..store import open_store

    store = open_store(settings, warn)
    await store.open()
    return store


async def resolve_session(store: Store, given: str) -> SessionInfo:
    """A full id, a short id or a unique fragment (≥ 6 characters) → the stored session; one line otherwise."""
    resolve: Any
    try:
        from ..store.naming import resolve  # type: ignore[import-not-found, no-redef]
    except ImportError:
        resolve = None
    if resolve is not None:
        return await resolve(store, given)  # type: ignore[no-any-return]
    fragment = given.strip().lower()
    if len(fragment) < 6:
        raise KaiwaError(f"{given!r} is too short to name a session", "give at least 6 characters of its id")
    found = await store.find_sessions(fragment, limit=10)
    exact = [s for s in found if fragment in (s.session_id, s.short_id)]
    if len(exact) == 1:
        return exact[0]
    if not found:
        raise KaiwaError(f"no session matches {given!r}", "see /sessions")
    if len(found) > 1:
        names = ", ".join(f"{s.short_id} ({s.title})" for s in found[:5])
        raise KaiwaError(f"{given!r} matches several sessions: {names}", "give more of the id")
    return found[0]


async def fork_session(store: Store, info: SessionInfo) -> SessionInfo:
    """A copy of the whole session (items, turns, instructions) under a new id; the original is untouched."""
    try:
        from ..store import dump as shared  # type: ignore[attr-defined]
    except ImportError:
        shared = None
    if shared is not None:
        copy = shared.fork(await shared.load(store, info))
    else:
        from ..store.sqlite import new_session_id

        now = time.time()
        copy = SessionDump(
            info=dataclasses.replace(
                info, session_id=new_session_id(), created_at=now, updated_at=now, origin=f"fork of {info.session_id}"
            ),
            items=await store.items(info.session_id),
            turns=await store.turns(info.session_id),
        )
    await store.create_session(copy)
    stored = await store.get_session(copy.info.session_id)
    if stored is None:
        raise KaiwaError(f"the fork {copy.info.session_id} was not stored", "try /fork again")
    return stored
