"""The REPL's way to the session store and to session names.

TEMPORARY: until `kaiwa.store.open_store` (the store rewrite) and `kaiwa.store.naming` (issue 10) land on main,
this adapts today's SQLite store to the async `Store` methods the REPL uses. Delete the fallbacks then.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from ..errors import KaiwaError
from ..settings import Settings
from ..store.base import SessionDump, SessionInfo, TurnRecord


async def open_repl_store(settings: Settings) -> Any:
    try:
        from ..store import open_store  # type: ignore[attr-defined]
    except ImportError:
        return _LegacyStore(settings.db_path)
    store = open_store(settings)
    await store.open()
    return store


async def resolve_session(store: Any, given: str) -> SessionInfo:
    """A full id, a short id or a unique fragment (≥ 6 characters) → the stored session; one line otherwise."""
    try:
        from ..store.naming import resolve  # type: ignore[import-not-found]
    except ImportError:
        resolve = None
    if resolve is not None:
        return await resolve(store, given)  # type: ignore[no-any-return]
    fragment = given.strip().lower()
    if len(fragment) < 6:
        raise KaiwaError(f"{given!r} is too short to name a session", "give at least 6 characters of its id")
    found = await store.find_sessions(fragment, limit=10)
    exact = [s for s in found if s.session_id == fragment]
    if exact:
        return exact[0]  # type: ignore[no-any-return]
    if not found:
        raise KaiwaError(f"no session matches {given!r}", "see /sessions")
    if len(found) > 1:
        names = ", ".join(f"{s.short_id} ({s.title})" for s in found[:5])
        raise KaiwaError(f"{given!r} matches several sessions: {names}", "give more of the id")
    return found[0]  # type: ignore[no-any-return]


class _LegacyStore:
    """Today's `store.sqlite.Store` with the async reading/managing methods of `store.base.Store`."""

    def __init__(self, path: Any) -> None:
        from ..store.sqlite import Store

        self._store = Store(path)
        self.location = str(self._store.path)
        self._instructions: dict[str, str | None] = {}  # held in memory only (no column yet)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def list_sessions(self, limit: int | None = None) -> list[SessionInfo]:
        return [self._with_instructions(s) for s in self._store.sessions(limit)]

    async def get_session(self, session_id: str) -> SessionInfo | None:
        found = self._store.session(session_id)
        return self._with_instructions(found) if found else None

    async def find_sessions(self, fragment: str, limit: int = 10) -> list[SessionInfo]:
        return [s for s in await self.list_sessions() if fragment.lower() in s.session_id][:limit]

    def _with_instructions(self, info: SessionInfo) -> SessionInfo:
        return dataclasses.replace(info, instructions=self._instructions.get(info.session_id))

    async def items(self, session_id: str) -> list[dict[str, Any]]:
        with self._store._connect() as conn:
            if not self._store._has_sdk_tables(conn):
                return []
            rows = conn.execute(
                "SELECT message_data FROM agent_messages WHERE session_id=? ORDER BY id", (session_id,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    async def turns(self, session_id: str) -> list[TurnRecord]:
        with self._store._connect() as conn:
            rows = conn.execute(
                "SELECT model, input_tokens, output_tokens, reasoning_tokens, cached_tokens, cost, request_ids,"
                " duration_ms, created_at FROM kaiwa_turns WHERE session_id=? ORDER BY id",
                (session_id,),
            ).fetchall()
        return [TurnRecord(r[0], r[1], r[2], r[3], r[4], r[5], tuple(r[6].split()), r[7], r[8]) for r in rows]

    async def commit_turn(self, session_id: str, items: list[Any], record: TurnRecord, **kw: Any) -> None:
        instructions = kw.get("instructions")
        if instructions is not None and session_id not in self._instructions:
            self._instructions[session_id] = instructions
        await self._store.commit_turn(session_id, items, record, **kw)

    async def set_instructions(self, session_id: str, instructions: str | None) -> None:
        self._instructions[session_id] = instructions

    async def truncate(self, session_id: str, keep_items: int, keep_turns: int) -> None:
        with self._store._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "DELETE FROM agent_messages WHERE id IN (SELECT id FROM agent_messages WHERE session_id=?"
                " ORDER BY id LIMIT -1 OFFSET ?)",
                (session_id, keep_items),
            )
            conn.execute(
                "DELETE FROM kaiwa_turns WHERE id IN (SELECT id FROM kaiwa_turns WHERE session_id=?"
                " ORDER BY id LIMIT -1 OFFSET ?)",
                (session_id, keep_turns),
            )

    async def create_session(self, dump: SessionDump) -> None:
        info = dump.info
        now = time.time()
        self._store.sdk_session(info.session_id).close()  # creates the SDK's tables if this file has none yet
        with self._store._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM kaiwa_sessions WHERE session_id=?", (info.session_id,)).fetchone():
                raise KaiwaError(f"session {info.session_id} exists already")
            conn.execute("INSERT OR IGNORE INTO agent_sessions (session_id) VALUES (?)", (info.session_id,))
            conn.executemany(
                "INSERT INTO agent_messages (session_id, message_data) VALUES (?, ?)",
                [(info.session_id, json.dumps(item)) for item in dump.items],
            )
            conn.execute(
                "INSERT INTO kaiwa_sessions (session_id, created_at, updated_at, model, title) VALUES (?,?,?,?,?)",
                (info.session_id, now, now, info.model, info.title),
            )
            for t in dump.turns:
                conn.execute(
                    "INSERT INTO kaiwa_turns (session_id, created_at, model, input_tokens, output_tokens,"
                    " reasoning_tokens, cached_tokens, cost, request_ids, duration_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        info.session_id,
                        t.created_at or now,
                        t.model,
                        t.input_tokens,
                        t.output_tokens,
                        t.reasoning_tokens,
                        t.cached_tokens,
                        t.cost,
                        " ".join(t.request_ids),
                        t.duration_ms,
                    ),
                )
        self._instructions[info.session_id] = info.instructions


async def fork_session(store: Any, session_id: str) -> str:
    """A copy of the whole session (items, turns, instructions) under a new id; the original is untouched."""
    try:
        from ..store.dump import fork  # type: ignore[import-not-found]
    except ImportError:
        fork = None
    if fork is not None:
        return str(await fork(store, session_id))
    from ..store.sqlite import new_session_id

    info = await store.get_session(session_id)
    if info is None:
        raise KaiwaError("nothing to fork yet", "send a message first")
    new_id = new_session_id()
    dump = SessionDump(
        info=dataclasses.replace(info, session_id=new_id, origin=f"fork of {session_id}"),
        items=await store.items(session_id),
        turns=await store.turns(session_id),
    )
    await store.create_session(dump)
    return new_id
