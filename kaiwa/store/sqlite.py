"""The session store: one SQLite file holding the SDK's conversation tables and kaiwa's own.

The messages themselves live only in the SDK's `agent_messages` (via `SQLiteSession`); kaiwa adds what users
need on top of them — when a session was created and last used, with which model, a title, and usage per turn.
Nothing here imports the Agents SDK except `sdk_session`, so listing sessions stays cheap.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import KaiwaError, UsageError
from .base import SessionInfo, TurnRecord, make_title

if TYPE_CHECKING:
    from agents.memory import SQLiteSession

SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE IF NOT EXISTS kaiwa_sessions (
    session_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    model TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS kaiwa_turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES kaiwa_sessions (session_id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    request_ids TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_kaiwa_turns_session ON kaiwa_turns (session_id, id);
"""


def new_session_id() -> str:
    import uuid6  # deferred: only a new conversation needs it

    return str(uuid6.uuid7())


def parse_session_id(raw: str) -> str:
    """The canonical form of a session id, or a usage error for anything that is not a UUID."""
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        raise UsageError(
            f"--session-id {raw!r} is not a UUID",
            "copy the id printed as SESSION_ID=… or list them with `chat.py sessions`",
        ) from None


def check_db_path(path: Path) -> Path:
    """Refuse a path that cannot hold the store, with a line that says how to fix it."""
    path = Path(os.path.expanduser(str(path)))
    hint = "set SESSION_DB_PATH to a writable file path"
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise KaiwaError(f"the folder of SESSION_DB_PATH does not exist: {folder}", f"create it or {hint}")
    if path.is_dir():
        raise KaiwaError(f"SESSION_DB_PATH is a folder, not a file: {path}", hint)
    if path.exists():
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
        if head and head != SQLITE_MAGIC:
            raise KaiwaError(f"SESSION_DB_PATH is not an SQLite database: {path}", hint)
        if not os.access(path, os.W_OK):
            raise KaiwaError(f"SESSION_DB_PATH is not writable: {path}", hint)
    elif not os.access(folder, os.W_OK):
        raise KaiwaError(f"cannot create SESSION_DB_PATH in {folder}: the folder is not writable", hint)
    return path


class Store:
    def __init__(self, path: Path) -> None:
        self.path = check_db_path(path)
        try:
            with self._connect() as conn:
                conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise KaiwaError(f"cannot use SESSION_DB_PATH {self.path}: {exc}", "point it at another file") from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=5.0)) as conn, conn:
            conn.execute("PRAGMA foreign_keys = ON")
            yield conn

    def _has_sdk_tables(self, conn: sqlite3.Connection) -> bool:
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='agent_messages'").fetchone()
        return row is not None

    def sdk_session(self, session_id: str) -> SQLiteSession:
        from agents.memory import SQLiteSession

        return SQLiteSession(session_id, self.path)

    @asynccontextmanager
    async def lock(
        self, session_id: str, on_wait: Callable[[], None] | None = None, timeout: float = 120.0
    ) -> AsyncIterator[None]:
        """One turn at a time per session, across processes: an fcntl byte-range lock in `<db>.lock` at an
        offset derived from the session id (the kernel releases it when a process dies, however it dies)."""
        import zlib

        offset = zlib.crc32(session_id.encode()) & 0x7FFFFFFF
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            waited = False
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                    break
                except OSError:
                    if not waited and on_wait is not None:
                        on_wait()
                    waited = True
                    if time.monotonic() > deadline:
                        raise KaiwaError(
                            f"session {session_id} is busy: another kaiwa process is in a turn on it",
                            "wait for it to finish and try again",
                        ) from None
                    await asyncio.sleep(0.1)
            yield
        finally:
            os.close(fd)  # releases the lock

    async def commit_turn(
        self,
        session_id: str,
        items: list[dict[str, Any]],
        record: TurnRecord,
        *,
        title: str,
        instructions: str | None = None,
        replace_from: int | None = None,
    ) -> None:
        """The whole turn in one transaction: the SDK's rows (in its own format) and kaiwa's."""
        now = time.time()
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            if replace_from is not None:
                conn.execute(
                    "DELETE FROM agent_messages WHERE id IN (SELECT id FROM agent_messages WHERE session_id=?"
                    " ORDER BY id LIMIT -1 OFFSET ?)",
                    (session_id, replace_from),
                )
                conn.execute(
                    "DELETE FROM kaiwa_turns WHERE id=(SELECT MAX(id) FROM kaiwa_turns WHERE session_id=?)",
                    (session_id,),
                )
            conn.execute("INSERT OR IGNORE INTO agent_sessions (session_id) VALUES (?)", (session_id,))
            conn.executemany(
                "INSERT INTO agent_messages (session_id, message_data) VALUES (?, ?)",
                [(session_id, json.dumps(item)) for item in items],
            )
            conn.execute("UPDATE agent_sessions SET updated_at=CURRENT_TIMESTAMP WHERE session_id=?", (session_id,))
            self._record_turn(conn, session_id, title, record, now)

    def exists(self, session_id: str) -> bool:
        with self._connect() as conn:
            if conn.execute("SELECT 1 FROM kaiwa_sessions WHERE session_id=?", (session_id,)).fetchone():
                return True
            if not self._has_sdk_tables(conn):
                return False
            # A conversation written by the SDK alone (e.g. another tool on the same file) counts too.
            return (
                conn.execute("SELECT 1 FROM agent_messages WHERE session_id=? LIMIT 1", (session_id,)).fetchone()
                is not None
            )

    def message_mark(self, session_id: str) -> int:
        """The id of the session's newest stored item: the point a failed turn rolls back to."""
        with self._connect() as conn:
            if not self._has_sdk_tables(conn):
                return 0
            row = conn.execute("SELECT MAX(id) FROM agent_messages WHERE session_id=?", (session_id,)).fetchone()
            return int(row[0] or 0)

    def rollback_to(self, session_id: str, mark: int) -> int:
        """Remove what a failed turn stored after `mark` (the SDK saves the user's message before the model
        answers); a session that had nothing before is removed whole. Returns how many items were removed."""
        with self._connect() as conn:
            if not self._has_sdk_tables(conn):
                return 0
            removed = conn.execute(
                "DELETE FROM agent_messages WHERE session_id=? AND id>?", (session_id, mark)
            ).rowcount
            left = conn.execute("SELECT 1 FROM agent_messages WHERE session_id=? LIMIT 1", (session_id,)).fetchone()
            known = conn.execute("SELECT 1 FROM kaiwa_sessions WHERE session_id=?", (session_id,)).fetchone()
            if not left and not known:
                conn.execute("DELETE FROM agent_sessions WHERE session_id=?", (session_id,))
            return removed

    def record_turn(self, session_id: str, user_text: str, turn: TurnRecord) -> None:
        with self._connect() as conn:
            self._record_turn(conn, session_id, make_title(user_text), turn, time.time())

    def _record_turn(self, conn: sqlite3.Connection, session_id: str, title: str, turn: TurnRecord, now: float) -> None:
        conn.execute(
            "INSERT INTO kaiwa_sessions (session_id, created_at, updated_at, model, title) VALUES (?,?,?,?,?)"
            " ON CONFLICT(session_id) DO UPDATE SET updated_at=excluded.updated_at, model=excluded.model",
            (session_id, now, now, turn.model, title),
        )
        conn.execute(
            "INSERT INTO kaiwa_turns (session_id, created_at, model, input_tokens, output_tokens,"
            " reasoning_tokens, cached_tokens, cost, request_ids, duration_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                session_id,
                now,
                turn.model,
                turn.input_tokens,
                turn.output_tokens,
                turn.reasoning_tokens,
                turn.cached_tokens,
                turn.cost,
                " ".join(turn.request_ids),
                turn.duration_ms,
            ),
        )

    def sessions(self, limit: int | None = None) -> list[SessionInfo]:
        query = (
            "SELECT s.session_id, s.created_at, s.updated_at, s.model, s.title, COUNT(t.id),"
            " COALESCE(SUM(t.input_tokens),0), COALESCE(SUM(t.output_tokens),0), SUM(t.cost)"
            " FROM kaiwa_sessions s LEFT JOIN kaiwa_turns t ON t.session_id = s.session_id"
            " GROUP BY s.session_id ORDER BY s.updated_at DESC"
        )
        params: tuple[Any, ...] = ()
        if limit is not None:
            query += " LIMIT ?"
            params = (limit,)
        with self._connect() as conn:
            return [SessionInfo(*row) for row in conn.execute(query, params)]

    def session(self, session_id: str) -> SessionInfo | None:
        return next((s for s in self.sessions() if s.session_id == session_id), None)
