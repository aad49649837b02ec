"""kaiwa's SQLite schema: what a file must look like before kaiwa writes to it, and how an older one moves forward.

Versions (kept in `kaiwa_meta.schema_version`):
  1. round 2: `kaiwa_sessions` and `kaiwa_turns` beside the SDK's tables, no version recorded anywhere;
  2. `kaiwa_meta`, `kaiwa_sessions.instructions` / `.origin`, full-text search (`kaiwa_fts`, FTS5 with the trigram
     tokenizer, so Japanese text without spaces is found too) kept in step with `agent_messages` by triggers,
     and the half-written turns round 2 could leave behind (it wrote the user's message before the answer) removed;
  3. `kaiwa_sessions.role` (the role a session runs as) and `kaiwa_turns.cache_write_tokens` (prompt caching);
  4. `kaiwa_turns.spender` (whose key paid: spending caps and `usage`) and an index on `kaiwa_turns.created_at`;
  5. `kaiwa_turns.attempts` (a turn whose stream broke off and was tried again) and `.outcome` (an answer cut by its
     output limit, or a turn that failed after its tools ran).

A new file is created at version 1 and migrated like an old one, so the migration path runs on every new store.
Each migration runs in one transaction with the version bump: a killed migration leaves the file as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 5

# The Agents SDK's own tables, exactly as its SQLiteSession creates them (it reads them back).
SDK_TABLES = """
CREATE TABLE IF NOT EXISTS agent_sessions (
    session_id TEXT PRIMARY KEY,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS agent_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    message_data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES agent_sessions (session_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_agent_messages_session_id ON agent_messages (session_id, id);
"""

# Round 2's tables (version 1), verbatim.
V1_TABLES = """
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

# The searchable text of one stored item (a JSON object in column `d`): the text of user and assistant messages.
_WANTED = "json_valid({d}) AND json_extract({d}, '$.role') IN ('user', 'assistant')"
_TEXT = (
    "CASE json_type({d}, '$.content')"
    " WHEN 'text' THEN json_extract({d}, '$.content')"
    " WHEN 'array' THEN (SELECT group_concat(json_extract(value, '$.text'), ' ') FROM json_each({d}, '$.content')"
    "   WHERE json_extract(value, '$.text') IS NOT NULL)"
    " END"
)


def _wanted(d: str) -> str:
    return _WANTED.format(d=d)


def item_text(d: str) -> str:
    return _TEXT.format(d=d)


FTS = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS kaiwa_fts USING fts5(text, session_id UNINDEXED, tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS kaiwa_fts_insert AFTER INSERT ON agent_messages WHEN {_wanted("new.message_data")}
BEGIN
    INSERT INTO kaiwa_fts (rowid, text, session_id)
    VALUES (new.id, COALESCE({item_text("new.message_data")}, ''), new.session_id);
END;
CREATE TRIGGER IF NOT EXISTS kaiwa_fts_delete AFTER DELETE ON agent_messages
BEGIN
    DELETE FROM kaiwa_fts WHERE rowid = old.id;
END;
CREATE TRIGGER IF NOT EXISTS kaiwa_fts_update AFTER UPDATE OF message_data ON agent_messages
BEGIN
    DELETE FROM kaiwa_fts WHERE rowid = old.id;
    INSERT INTO kaiwa_fts (rowid, text, session_id)
    SELECT new.id, COALESCE({item_text("new.message_data")}, ''), new.session_id WHERE {_wanted("new.message_data")};
END;
"""

FTS_BACKFILL = f"""
INSERT INTO kaiwa_fts (rowid, text, session_id)
SELECT id, COALESCE({item_text("message_data")}, ''), session_id FROM agent_messages WHERE {_wanted("message_data")}
"""

# Items stored after a session's last assistant message: a turn round 2 began and never finished.
HALF_WRITTEN = """
WITH last AS (
    SELECT session_id, MAX(CASE WHEN json_valid(message_data)
                                 AND json_extract(message_data, '$.role') = 'assistant' THEN id END) AS answer
    FROM agent_messages GROUP BY session_id
)
SELECT m.id FROM agent_messages m JOIN last USING (session_id) WHERE m.id > COALESCE(last.answer, 0)
"""


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS kaiwa_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(kaiwa_sessions)")}
    for column in ("instructions", "origin"):
        if column not in columns:
            conn.execute(f"ALTER TABLE kaiwa_sessions ADD COLUMN {column} TEXT")
    for statement in _statements(SDK_TABLES):
        conn.execute(statement)
    for statement in _statements(FTS):
        conn.execute(statement)
    conn.execute("DELETE FROM kaiwa_fts")
    conn.execute(FTS_BACKFILL)


def remove_half_written(conn: sqlite3.Connection) -> int:
    """Round 2's interrupted turns (it wrote the user's message before the answer): how many items went."""
    dangling = [row[0] for row in conn.execute(HALF_WRITTEN)]
    conn.executemany("DELETE FROM agent_messages WHERE id = ?", [(i,) for i in dangling])
    conn.execute(
        "DELETE FROM agent_sessions WHERE session_id NOT IN (SELECT session_id FROM agent_messages)"
        " AND session_id NOT IN (SELECT session_id FROM kaiwa_sessions)"
    )
    return len(dangling)


def _add_column(conn: sqlite3.Connection, table: str, column: str, definition: str) -> None:
    if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    _add_column(conn, "kaiwa_sessions", "role", "TEXT")
    _add_column(conn, "kaiwa_turns", "cache_write_tokens", "INTEGER NOT NULL DEFAULT 0")


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    _add_column(conn, "kaiwa_turns", "spender", "TEXT NOT NULL DEFAULT ''")
    conn.execute("CREATE INDEX IF NOT EXISTS idx_kaiwa_turns_created ON kaiwa_turns (created_at)")


def _v4_to_v5(conn: sqlite3.Connection) -> None:
    _add_column(conn, "kaiwa_turns", "attempts", "INTEGER NOT NULL DEFAULT 1")
    _add_column(conn, "kaiwa_turns", "outcome", "TEXT NOT NULL DEFAULT ''")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], object]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5
}  # N to N + 1


def _statements(script: str) -> list[str]:
    """Split a script of CREATE statements (triggers hold `;` inside BEGIN … END)."""
    out: list[str] = []
    current = ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return out


KNOWN_PREFIXES = ("kaiwa_", "agent_", "sqlite_")

# The columns of the SDK's tables, as its SQLiteSession creates them.
SDK_COLUMNS = {
    "agent_sessions": {"session_id", "created_at", "updated_at"},
    "agent_messages": {"id", "session_id", "message_data", "created_at"},
}


def _is_sdk_file(conn: sqlite3.Connection, tables: list[str]) -> bool:
    """Exactly the SDK's two tables (SQLite's own aside), with the SDK's columns."""
    if {t for t in tables if not t.startswith("sqlite_")} != set(SDK_COLUMNS):
        return False
    return all({row[1] for row in conn.execute(f"PRAGMA table_info({t})")} == c for t, c in SDK_COLUMNS.items())


class Shape:
    """What a file holds, read without writing anything."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        self.version: int | None = None
        if "kaiwa_meta" in self.tables:
            row = conn.execute("SELECT value FROM kaiwa_meta WHERE key = 'schema_version'").fetchone()
            self.version = int(row[0]) if row else None
        elif "kaiwa_sessions" in self.tables:
            self.version = 1
        # Only the Agents SDK's own tables (the original chat.py's file): kaiwa adopts it (adopt.py).
        self.sdk_only = self.version is None and _is_sdk_file(conn, self.tables)

    @property
    def empty(self) -> bool:
        return not self.tables

    @property
    def foreign(self) -> bool:
        """Another application's database: tables, none of them kaiwa's, and not only the SDK's."""
        return bool(self.tables) and self.version is None and not self.sdk_only

    @property
    def others(self) -> list[str]:
        return [t for t in self.tables if not t.startswith(KNOWN_PREFIXES)]


def create_v1(conn: sqlite3.Connection) -> None:
    for statement in _statements(SDK_TABLES + V1_TABLES):
        conn.execute(statement)


def migrate(conn: sqlite3.Connection, version: int, repair: bool = True) -> int:
    """Inside the caller's transaction: from `version` to SCHEMA_VERSION. Returns the items removed from round 2's
    interrupted turns (`repair`: a round-2 file; an adopted SDK file keeps every item)."""
    start = version
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
    conn.execute(
        "INSERT INTO kaiwa_meta (key, value) VALUES ('schema_version', ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )
    return remove_half_written(conn) if start == 1 and repair else 0
