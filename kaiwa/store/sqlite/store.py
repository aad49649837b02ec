"""The SQLite session store: one file holding the SDK's conversation tables and kaiwa's own.

The items live in the SDK's `agent_messages` (its format, so its `SQLiteSession` reads them back); kaiwa keeps
sessions, usage per turn and a search index beside them (schema: `schema.py`, the file: `files.py`).
Many processes share one file: WAL, a busy timeout, short `BEGIN IMMEDIATE` write transactions retried while
the file is busy, and one turn at a time per session (`lock`). Every SQLite call runs in the store's own thread
(`worker.py`), never on the event loop. Nothing here imports the Agents SDK at all,
so listing sessions stays cheap.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from ...errors import KaiwaError
from ...words import program
from ..base import (
    Compaction,
    Item,
    ModelSpend,
    SearchHit,
    SessionDump,
    SessionInfo,
    Store,
    TurnRecord,
    latest_time,
    make_title,
)
from . import files
from .files import check_db_path
from .lock import session_lock
from .search import search
from .worker import SQLiteWorker

__all__ = ["SQLiteStore", "check_db_path", "make_title"]

T = TypeVar("T")
INFO = (
    "SELECT s.session_id, s.created_at, s.updated_at, s.model, s.title, COUNT(t.id),"
    " COALESCE(SUM(t.input_tokens), 0), COALESCE(SUM(t.output_tokens), 0), SUM(t.cost), s.instructions, s.origin,"
    " s.role"
    " FROM kaiwa_sessions s LEFT JOIN kaiwa_turns t ON t.session_id = s.session_id"
)
# NaN is stored as NULL by SQLite: NOT (NULL …) is NULL, so `unlisted` counts those rows with COALESCE.
IN_RANGE = "COALESCE(s.updated_at BETWEEN 0 AND ? AND s.created_at BETWEEN 0 AND ?, 0)"
TURN_COLUMNS = (
    "created_at, model, input_tokens, output_tokens, reasoning_tokens, cached_tokens, cost, request_ids, duration_ms,"
    " cache_write_tokens, spender, attempts, outcome"
)


def _warn_stderr(line: str) -> None:
    """The store's notices on stderr, dim on a terminal (as the renderer shows them)."""
    dim = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    print(f"\x1b[2m{line}\x1b[0m" if dim else line, file=sys.stderr, flush=True)


class SQLiteStore(Store):
    def __init__(
        self,
        path: Path | str,
        warn: Callable[[str], None] | None = None,
        lock_timeout: float | None = None,
        own_folder: bool = False,
        seed_from: Path | None = None,
    ) -> None:
        """`own_folder`: the path is kaiwa's data folder's file, whose folder kaiwa creates (0700) when missing.
        `seed_from`: a folder where the original chat.py may have left its sessions.sqlite3 (said once)."""
        self.path = files.expand(path)
        self.location = str(self.path)
        self.lock_timeout = lock_timeout
        self._warn = warn or _warn_stderr
        self._seed_from = seed_from
        self._worker = SQLiteWorker(self.path, self._warn, own_folder)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def open(self) -> None:
        await self._worker.run(lambda conn: None)
        if self._seed_from is not None:
            from .seed import seed_notice

            folder, self._seed_from = self._seed_from, None
            if line := seed_notice(self.path, folder):
                self._warn(line)

    async def close(self) -> None:
        await self._worker.close()

    async def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return await self._worker.run(lambda conn: conn.execute(sql, params).fetchall())

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one short BEGIN IMMEDIATE transaction, retried as a whole while the file is busy."""
        return await self._worker.run(work, write=True)

    # -- reading -----------------------------------------------------------------------------------
    @staticmethod
    def _info(row: tuple[Any, ...]) -> SessionInfo:
        return SessionInfo(*row)

    async def list_sessions(self, limit: int | None = None) -> list[SessionInfo]:
        sql = INFO + f" WHERE {IN_RANGE} GROUP BY s.session_id ORDER BY s.updated_at DESC, s.session_id DESC"
        latest = latest_time()
        if limit is not None:
            return [self._info(r) for r in await self._read(sql + " LIMIT ?", (latest, latest, limit))]
        return [self._info(r) for r in await self._read(sql, (latest, latest))]

    async def unlisted(self) -> list[str]:
        rows = await self._read(f"SELECT session_id FROM kaiwa_sessions s WHERE NOT ({IN_RANGE})", (latest_time(),) * 2)
        return [r[0] for r in rows]

    async def get_session(self, session_id: str) -> SessionInfo | None:
        rows = await self._read(INFO + " WHERE s.session_id = ? GROUP BY s.session_id", (session_id,))
        return self._info(rows[0]) if rows else None

    async def find_sessions(self, fragment: str, limit: int = 10) -> list[SessionInfo]:
        pattern = "%" + fragment.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = INFO + " WHERE lower(s.session_id) LIKE ? ESCAPE '\\' GROUP BY s.session_id"
        rows = await self._read(sql + " ORDER BY s.updated_at DESC, s.session_id DESC LIMIT ?", (pattern, limit))
        return [self._info(r) for r in rows]

    async def items(self, session_id: str) -> list[Item]:
        rows = await self._read(
            "SELECT message_data FROM agent_messages WHERE session_id = ? ORDER BY id", (session_id,)
        )
        try:  # one parse of the joined rows: about half the cost of one per row (a 10,000-item resume)
            items: list[Item] = json.loads("[" + ",".join(r[0] for r in rows) + "]")
            return items
        except ValueError:
            return [json.loads(r[0]) for r in rows]

    async def turns(self, session_id: str) -> list[TurnRecord]:
        rows = await self._read(
            f"SELECT {TURN_COLUMNS} FROM kaiwa_turns WHERE session_id = ? ORDER BY id", (session_id,)
        )
        return [
            TurnRecord(
                model=r[1],
                input_tokens=r[2],
                output_tokens=r[3],
                reasoning_tokens=r[4],
                cached_tokens=r[5],
                cost=r[6],
                request_ids=tuple(r[7].split()),
                duration_ms=r[8],
                created_at=r[0],
                cache_write_tokens=r[9],
                spender=r[10],
                attempts=r[11],
                outcome=r[12],
            )
            for r in rows
        ]

    async def spend(self, since: float, spender: str | None = None) -> list[ModelSpend]:
        # Turns, and in-place compactions (paid too) under the name "compaction", whose spender is their session's.
        rows = await self._read(
            "SELECT model, COALESCE(SUM(cost), 0), COUNT(*), SUM(cost IS NULL), SUM(input_tokens), SUM(output_tokens)"
            " FROM (SELECT model, cost, input_tokens, output_tokens, created_at, spender FROM kaiwa_turns"
            " UNION ALL SELECT 'compaction', c.cost, 0, 0, c.created_at, (SELECT t.spender FROM kaiwa_turns t"
            " WHERE t.session_id = c.session_id ORDER BY t.id DESC LIMIT 1) FROM kaiwa_compactions c)"
            f" WHERE created_at >= ?{' AND spender = ?' if spender is not None else ''} GROUP BY model",
            (since, spender) if spender is not None else (since,),
        )
        return [ModelSpend(r[0], float(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        hits = await self._worker.run(lambda conn: search(conn, text, limit * 20))
        out: list[SearchHit] = []
        for session_id, snippet in hits:
            info = await self.get_session(session_id)
            if info is not None:
                out.append(SearchHit(info, snippet))
        out.sort(key=lambda h: (h.session.updated_at, h.session.session_id), reverse=True)
        return out[:limit]

    # -- the turn ----------------------------------------------------------------------------------
    def lock(
        self, session_id: str, on_wait: Callable[[], None] | None = None, timeout: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        chosen = timeout if timeout is not None else self.lock_timeout
        return self._locked(session_id, on_wait, 120.0 if chosen is None else chosen)

    @asynccontextmanager
    async def _locked(self, session_id: str, on_wait: Callable[[], None] | None, timeout: float) -> AsyncIterator[None]:
        await self.open()  # the lock file sits beside a checked store
        async with session_lock(Path(f"{self.path}.lock"), session_id, on_wait, timeout):
            yield

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
        def work(conn: sqlite3.Connection) -> None:
            now = time.time()
            stored = record
            if replace_from is not None:
                self._cut(conn, session_id, replace_from, None)
                last = conn.execute(
                    "SELECT id, cost FROM kaiwa_turns WHERE session_id = ? ORDER BY id DESC LIMIT 1", (session_id,)
                ).fetchone()
                if last is not None:
                    conn.execute("DELETE FROM kaiwa_turns WHERE id = ?", (last[0],))
                    stored = record.replacing(last[1])
            conn.execute(
                "INSERT INTO kaiwa_sessions (session_id, created_at, updated_at, model, title, instructions, role)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET updated_at = excluded.updated_at,"
                " model = excluded.model, role = COALESCE(excluded.role, kaiwa_sessions.role)",
                (session_id, now, now, record.model, title, instructions, role),
            )
            self._append(conn, session_id, items)
            self._add_turns(conn, session_id, [stored], now)

        await self._write(work)

    @staticmethod
    def _append(conn: sqlite3.Connection, session_id: str, items: list[Item]) -> None:
        conn.execute("INSERT OR IGNORE INTO agent_sessions (session_id) VALUES (?)", (session_id,))
        conn.executemany(
            "INSERT INTO agent_messages (session_id, message_data) VALUES (?, ?)",
            [(session_id, json.dumps(item)) for item in items],
        )
        conn.execute("UPDATE agent_sessions SET updated_at = CURRENT_TIMESTAMP WHERE session_id = ?", (session_id,))

    @staticmethod
    def _add_turns(conn: sqlite3.Connection, session_id: str, records: list[TurnRecord], now: float) -> None:
        conn.executemany(
            f"INSERT INTO kaiwa_turns (session_id, {TURN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    session_id,
                    r.created_at or now,
                    r.model,
                    r.input_tokens,
                    r.output_tokens,
                    r.reasoning_tokens,
                    r.cached_tokens,
                    r.cost,
                    " ".join(r.request_ids),
                    r.duration_ms,
                    r.cache_write_tokens,
                    r.spender,
                    r.attempts,
                    r.outcome,
                )
                for r in records
            ],
        )

    @staticmethod
    def _cut(conn: sqlite3.Connection, session_id: str, keep_items: int | None, keep_turns: int | None) -> None:
        if keep_items is not None:
            conn.execute(
                "DELETE FROM agent_messages WHERE id IN (SELECT id FROM agent_messages WHERE session_id = ?"
                " ORDER BY id LIMIT -1 OFFSET ?)",
                (session_id, keep_items),
            )
        if keep_turns is not None:
            conn.execute(
                "DELETE FROM kaiwa_turns WHERE id IN (SELECT id FROM kaiwa_turns WHERE session_id = ?"
                " ORDER BY id LIMIT -1 OFFSET ?)",
                (session_id, keep_turns),
            )

    # -- managing sessions ---------------------------------------------------------------------------
    async def create_session(self, dump: SessionDump) -> None:
        info = dump.info

        def work(conn: sqlite3.Connection) -> None:
            sid = info.session_id
            if conn.execute(
                "SELECT 1 FROM kaiwa_sessions WHERE session_id = ? UNION ALL"
                " SELECT 1 FROM agent_messages WHERE session_id = ? LIMIT 1",
                (sid, sid),
            ).fetchone():
                raise KaiwaError(f"a session {sid} exists already", "import it with a new id (--new-id)")
            now = time.time()
            conn.execute(
                "INSERT INTO kaiwa_sessions"
                " (session_id, created_at, updated_at, model, title, instructions, origin, role)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    info.created_at or now,
                    info.updated_at or now,
                    info.model,
                    info.title,
                    info.instructions,
                    info.origin,
                    info.role,
                ),
            )
            self._append(conn, sid, dump.items)
            self._add_turns(conn, sid, dump.turns, now)
            if dump.compaction is not None:
                self._add_compaction(conn, sid, dump.compaction)

        await self._write(work)

    async def _update(self, session_id: str, column: str, value: Any) -> None:
        def work(conn: sqlite3.Connection) -> None:
            sql = f"UPDATE kaiwa_sessions SET {column} = ? WHERE session_id = ?"
            if not conn.execute(sql, (value, session_id)).rowcount:
                raise KaiwaError(f"no session {session_id} in {self.path}", f"list them with `{program()} sessions`")

        await self._write(work)

    async def rename(self, session_id: str, title: str) -> None:
        await self._update(session_id, "title", title)

    async def set_instructions(self, session_id: str, instructions: str | None) -> None:
        await self._update(session_id, "instructions", instructions)

    async def set_role(self, session_id: str, role: str | None) -> None:
        await self._update(session_id, "role", role)

    async def set_origin(self, session_id: str, origin: str | None) -> None:
        await self._update(session_id, "origin", origin)

    async def compaction(self, session_id: str) -> Compaction | None:
        rows = await self._read(
            "SELECT summary, first_kept, tokens_before, tokens_after, cost, created_at FROM kaiwa_compactions"
            " WHERE session_id = ? ORDER BY id DESC LIMIT 1",
            (session_id,),
        )
        if not rows:
            return None
        summary, first_kept, before, after, cost, created = rows[0]
        return Compaction(json.loads(summary), first_kept, before, after, cost, created)

    @staticmethod
    def _add_compaction(conn: sqlite3.Connection, session_id: str, compaction: Compaction) -> None:
        conn.execute(
            "INSERT INTO kaiwa_compactions (session_id, created_at, summary, first_kept, tokens_before,"
            " tokens_after, cost) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, compaction.created_at or time.time(), json.dumps(compaction.summary),
             compaction.first_kept, compaction.tokens_before, compaction.tokens_after, compaction.cost),
        )  # fmt: skip

    async def add_compaction(self, session_id: str, compaction: Compaction) -> None:
        await self._write(lambda conn: self._add_compaction(conn, session_id, compaction))

    async def drop_compaction(self, session_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM kaiwa_compactions WHERE id = (SELECT MAX(id) FROM kaiwa_compactions WHERE session_id = ?)",
                (session_id,),
            )
            return cursor.rowcount > 0

        return await self._write(work)

    async def truncate(self, session_id: str, keep_items: int, keep_turns: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            self._cut(conn, session_id, keep_items, keep_turns)
            conn.execute("UPDATE kaiwa_sessions SET updated_at = ? WHERE session_id = ?", (time.time(), session_id))

        await self._write(work)

    async def delete(self, session_ids: list[str]) -> int:
        def work(conn: sqlite3.Connection) -> int:
            removed = 0
            for sid in session_ids:
                known = conn.execute(
                    "SELECT 1 FROM kaiwa_sessions WHERE session_id = ? UNION ALL"
                    " SELECT 1 FROM agent_sessions WHERE session_id = ? LIMIT 1",
                    (sid, sid),
                ).fetchone()
                for table in ("agent_messages", "agent_sessions", "kaiwa_turns", "kaiwa_sessions"):
                    conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (sid,))
                removed += bool(known)
            return removed

        return await self._write(work)
