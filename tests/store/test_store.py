"""The SQLite store on real files: path checks, ids, atomic turns, the schema version and migrating round 2's files.

(What every backend must do is in tests/store/test_contract.py; this file is what is SQLite's own.)
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from kaiwa.errors import KaiwaError, UsageError
from kaiwa.store.base import TurnRecord, make_title
from kaiwa.store.ids import new_session_id, parse_session_id
from kaiwa.store.sqlite import SQLiteStore
from kaiwa.store.sqlite.schema import SCHEMA_VERSION


def opened(path: Path, warnings: list[str] | None = None) -> SQLiteStore:
    store = SQLiteStore(path, warn=(warnings.append if warnings is not None else lambda line: None))
    asyncio.run(store.open())
    return store


def test_new_ids_are_uuid7_and_ordered() -> None:
    a, b = new_session_id(), new_session_id()
    assert uuid.UUID(a).version == 7 and uuid.UUID(b).version == 7
    assert a < b


def test_parse_session_id_canonicalises_and_refuses() -> None:
    sid = new_session_id()
    assert parse_session_id(f"  {sid.upper()} ") == sid
    with pytest.raises(UsageError, match="not a UUID"):
        parse_session_id("not-a-uuid")


def test_title_is_one_short_line() -> None:
    assert make_title("hello\n  world") == "hello world"
    assert len(make_title("x" * 500)) == 60


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(parents=True), "is a folder"),
        (lambda p: (p.parent.mkdir(), p.write_text("not a database, just text")), "not an SQLite database"),
    ],
)
def test_unusable_paths_are_refused(tmp_path: Path, setup, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "sub" / "db.sqlite3"
    setup(path)
    with pytest.raises(KaiwaError, match=message):
        opened(path)


# -- atomic turns: what the old in-process rollback guaranteed now follows from the single commit ---------------


def test_an_uncommitted_turn_leaves_the_session_as_it_was(tmp_path: Path) -> None:
    """A turn's items wait in its TurnBuffer; a turn that fails (or a process that dies) never commits them."""
    from kaiwa.core.turn_buffer import TurnBuffer

    store = opened(tmp_path / "db.sqlite3")
    sid = new_session_id()
    first = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "1"}]

    async def body() -> list[Any]:
        await store.commit_turn(sid, first, TurnRecord(model="m", input_tokens=3), title="one")
        buffer = TurnBuffer(sid, await store.items(sid))
        await buffer.add_items([{"role": "user", "content": "two"}])
        assert [i["content"] for i in await buffer.get_items()] == ["one", "1", "two"]  # the Runner's view
        return await store.items(sid)  # …but the turn failed here: nothing was committed

    assert asyncio.run(body()) == first
    info = asyncio.run(store.get_session(sid))
    assert info is not None and info.turns == 1


def test_an_uncommitted_first_turn_leaves_no_trace(tmp_path: Path) -> None:
    from kaiwa.core.turn_buffer import TurnBuffer

    path = tmp_path / "db.sqlite3"
    store = opened(path)
    sid = new_session_id()

    async def body() -> None:
        await TurnBuffer(sid, await store.items(sid)).add_items([{"role": "user", "content": "hi"}])

    asyncio.run(body())
    assert asyncio.run(store.get_session(sid)) is None
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM agent_sessions WHERE session_id=?", (sid,)).fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM agent_messages").fetchone() == (0,)


def test_turns_are_summed_per_session(tmp_path: Path) -> None:
    store = opened(tmp_path / "db.sqlite3")
    sid = new_session_id()

    async def body() -> None:
        await store.commit_turn(
            sid,
            [],
            TurnRecord(model="a", input_tokens=10, output_tokens=5, cost=0.5),
            title=make_title("first question"),
        )
        await store.commit_turn(
            sid, [], TurnRecord(model="b", input_tokens=20, output_tokens=7, cost=0.25), title=make_title("second")
        )

    asyncio.run(body())
    info = asyncio.run(store.get_session(sid))
    assert info is not None
    assert (info.turns, info.input_tokens, info.output_tokens, info.cost) == (2, 30, 12, 0.75)
    assert info.title == "first question" and info.model == "b"


# -- the schema version and migrating forward ----------------------------------------------------------------

ROUND_2_SCHEMA = """
CREATE TABLE agent_sessions (session_id TEXT PRIMARY KEY, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE agent_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, message_data TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES agent_sessions (session_id) ON DELETE CASCADE);
CREATE INDEX idx_agent_messages_session_id ON agent_messages (session_id, id);
CREATE TABLE kaiwa_sessions (session_id TEXT PRIMARY KEY, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    model TEXT NOT NULL, title TEXT NOT NULL DEFAULT '');
CREATE TABLE kaiwa_turns (id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES kaiwa_sessions (session_id) ON DELETE CASCADE, created_at REAL NOT NULL,
    model TEXT NOT NULL, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0, cached_tokens INTEGER NOT NULL DEFAULT 0, cost REAL,
    request_ids TEXT NOT NULL DEFAULT '', duration_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX idx_kaiwa_turns_session ON kaiwa_turns (session_id, id);
"""


def make_round_2_db(path: Path) -> dict[str, list[dict[str, Any]]]:
    """A database as round 2's kaiwa left it: two good sessions, one whose last turn was killed after the SDK had
    saved the user's message, and one killed during its very first turn (no kaiwa row at all)."""
    sessions = {
        "0190a000-0000-7000-8000-000000000001": [
            {"role": "user", "content": "Terraform の plan が失敗します"},
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "cycle エラーですね", "annotations": []}],
            },
        ],
        "0190a000-0000-7000-8000-000000000002": [
            {"role": "user", "content": "first"},
            {
                "id": "msg_2",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "answer", "annotations": []}],
            },
            {"role": "user", "content": "killed mid-answer"},
        ],
        "0190a000-0000-7000-8000-000000000003": [{"role": "user", "content": "killed in the first turn"}],
    }
    with sqlite3.connect(path) as conn:
        conn.executescript(ROUND_2_SCHEMA)
        conn.execute("PRAGMA journal_mode=WAL")
        for n, (sid, items) in enumerate(sessions.items()):
            conn.execute("INSERT INTO agent_sessions (session_id) VALUES (?)", (sid,))
            conn.executemany(
                "INSERT INTO agent_messages (session_id, message_data) VALUES (?, ?)",
                [(sid, json.dumps(i)) for i in items],
            )
            if n < 2:
                conn.execute(
                    "INSERT INTO kaiwa_sessions VALUES (?, ?, ?, 'fake-a', ?)",
                    (sid, 1000.0 + n, 2000.0 + n, items[0]["content"]),
                )
                conn.execute(
                    "INSERT INTO kaiwa_turns (session_id, created_at, model, input_tokens, output_tokens,"
                    " cost, request_ids) VALUES (?, 1500, 'fake-a', 11, 7, 0.01, 'req-a req-b')",
                    (sid,),
                )
    conn.close()
    return sessions


def test_a_round_2_database_opens_migrated_and_keeps_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    from kaiwa.store.sqlite import files as sqlite_files

    sqlite_files._WARNED.clear()
    old = make_round_2_db(path)
    good, killed, first_killed = list(old)
    warnings: list[str] = []
    store = opened(path, warnings)

    async def body() -> None:
        listed = await store.list_sessions()
        assert [s.session_id for s in listed] == [killed, good]
        info = await store.get_session(good)
        assert info is not None
        assert (info.title, info.model, info.turns, info.input_tokens, info.cost) == (
            "Terraform の plan が失敗します",
            "fake-a",
            1,
            11,
            0.01,
        )
        assert (info.instructions, info.origin) == (None, None)
        assert await store.items(good) == old[good]
        [t] = await store.turns(good)
        assert t.request_ids == ("req-a", "req-b")
        # Round 2's half-written turns are gone: every session ends with its last complete answer.
        assert await store.items(killed) == old[killed][:2]
        assert await store.items(first_killed) == [] and await store.get_session(first_killed) is None
        # Search was built for the existing rows.
        assert [h.session.session_id for h in await store.search("Terraform")] == [good]
        assert [h.session.session_id for h in await store.search("cycle")] == [good]
        assert await store.search("killed") == []
        # …and it goes on like any new store.
        await store.commit_turn(
            good,
            [{"role": "user", "content": "続き"}],
            TurnRecord(model="fake-b"),
            title="x",
            instructions="ignored: the session exists",
        )
        assert len(await store.items(good)) == 3

    asyncio.run(body())
    # Round 2 created its files with the umask (0644): said, not changed; and the repair is said once.
    assert len(warnings) == 2 and "readable by others (mode 0644)" in warnings[0], warnings
    assert "removed 2 item(s)" in warnings[1]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM kaiwa_meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again: list[str] = []
    opened(path, again)  # a second open finds nothing to do (and the mode was said once in this process)
    assert again == []


def test_a_migration_that_fails_leaves_the_file_at_its_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaiwa.store.sqlite import schema as sqlite_schema

    path = tmp_path / "sessions.sqlite3"
    old = make_round_2_db(path)

    def broken(conn: sqlite3.Connection) -> int:
        conn.execute("ALTER TABLE kaiwa_sessions ADD COLUMN instructions TEXT")
        raise sqlite3.OperationalError("disk I/O error")  # the process fails mid-migration

    monkeypatch.setitem(sqlite_schema.MIGRATIONS, 1, broken)
    with pytest.raises(KaiwaError):
        opened(path)
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(kaiwa_sessions)")}
        assert "kaiwa_meta" not in tables and "instructions" not in columns
        assert conn.execute("SELECT COUNT(*) FROM agent_messages").fetchone() == (sum(map(len, old.values())),)
    monkeypatch.undo()
    store = opened(path)
    assert len(asyncio.run(store.list_sessions())) == 2


def test_a_new_store_is_at_the_current_version_with_search(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    opened(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM kaiwa_meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"kaiwa_fts", "kaiwa_fts_insert", "kaiwa_fts_delete", "agent_messages"} <= names
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _as_schema_2(path: Path) -> None:
    """Turn a current file back into schema 2 (the round-3 store): without the role and cache-write columns."""
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE kaiwa_sessions DROP COLUMN role")
        conn.execute("ALTER TABLE kaiwa_turns DROP COLUMN cache_write_tokens")
        conn.execute("UPDATE kaiwa_meta SET value = '2' WHERE key = 'schema_version'")
    conn.close()


def test_a_schema_2_store_moves_to_3_keeping_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = opened(path)
    sid = new_session_id()
    items = [{"role": "user", "content": "kept across the migration"}, {"role": "assistant", "content": "yes"}]
    asyncio.run(store.commit_turn(sid, items, TurnRecord(model="m", cached_tokens=4), title="kept"))
    asyncio.run(store.close())
    _as_schema_2(path)

    store = opened(path)

    async def body() -> None:
        info = await store.get_session(sid)
        assert info is not None and (info.title, info.role, info.turns) == ("kept", None, 1)
        [t] = await store.turns(sid)
        assert (t.cached_tokens, t.cache_write_tokens) == (4, 0)
        assert await store.items(sid) == items
        await store.commit_turn(sid, [], TurnRecord(model="m", cache_write_tokens=5), title="x", role="reviewer")
        info = await store.get_session(sid)
        assert info is not None and info.role == "reviewer"
        assert [t.cache_write_tokens for t in await store.turns(sid)] == [0, 5]

    asyncio.run(body())
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM kaiwa_meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),  # and on to the newest
        )


def test_a_schema_3_store_moves_to_4_with_spenders(tmp_path: Path) -> None:
    """Schema 4 adds kaiwa_turns.spender (whose key paid: spending caps and `usage`), keeping every turn."""
    path = tmp_path / "db.sqlite3"
    store = opened(path)
    sid = new_session_id()
    asyncio.run(store.commit_turn(sid, [{"role": "user", "content": "hi"}], TurnRecord(model="m", cost=0.5), title="t"))
    asyncio.run(store.close())
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE kaiwa_turns DROP COLUMN spender")
        conn.execute("UPDATE kaiwa_meta SET value = '3' WHERE key = 'schema_version'")
    store = opened(path)

    async def body() -> list[tuple[str, float | None]]:
        await store.commit_turn(sid, [], TurnRecord(model="m", cost=0.25, spender="key:abc"), title="t")
        return [(t.spender, t.cost) for t in await store.turns(sid)]

    assert asyncio.run(body()) == [("", 0.5), ("key:abc", 0.25)]
    assert [(r.model, r.turns, r.cost) for r in asyncio.run(store.spend(0.0, "key:abc"))] == [("m", 1, 0.25)]
    assert [(r.model, r.turns, r.cost) for r in asyncio.run(store.spend(0.0))] == [("m", 2, 0.75)]


def test_a_failed_move_to_3_leaves_the_file_at_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kaiwa.store.sqlite import schema as sqlite_schema

    path = tmp_path / "db.sqlite3"
    asyncio.run(opened(path).close())
    _as_schema_2(path)

    def broken(conn: sqlite3.Connection) -> int:
        conn.execute("ALTER TABLE kaiwa_sessions ADD COLUMN role TEXT")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setitem(sqlite_schema.MIGRATIONS, 2, broken)
    with pytest.raises(KaiwaError):
        opened(path)
    with sqlite3.connect(path) as conn:
        assert "role" not in {r[1] for r in conn.execute("PRAGMA table_info(kaiwa_sessions)")}
        assert conn.execute("SELECT value FROM kaiwa_meta WHERE key='schema_version'").fetchone() == ("2",)
