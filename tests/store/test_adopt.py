"""Adopting the Agents SDK's own session file at the store level (chat.py end to end: tests/cli/test_adopt.py):
one transaction, once however many open it at once, and nothing changed when it fails."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from kaiwa.errors import KaiwaError
from kaiwa.store.sqlite import SQLiteStore
from tests.cli.test_adopt import CONVERSATIONS, MATH, write_sdk_file


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_many_stores_opening_an_sdk_file_at_once_adopt_it_once(tmp_path: Path) -> None:
    path = tmp_path / "sdk.sqlite3"
    write_sdk_file(path)
    said: list[str] = []

    async def main() -> list[int]:
        stores = [SQLiteStore(path, warn=said.append) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        counts = [len(await s.list_sessions()) for s in stores]
        assert await stores[0].items(MATH) == CONVERSATIONS[MATH]
        for s in stores:
            await s.close()
        return counts

    assert asyncio.run(main()) == [3, 3, 3, 3]
    assert len([line for line in said if line.startswith("kaiwa: adopted")]) == 1, said
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kaiwa_sessions").fetchone() == (3,)
        assert conn.execute("SELECT COUNT(*) FROM agent_messages").fetchone() == (
            sum(map(len, CONVERSATIONS.values())),
        )
    conn.close()


def test_an_empty_sdk_file_is_adopted_with_no_conversations(tmp_path: Path) -> None:
    from kaiwa.store.sqlite.schema import SDK_TABLES

    path = tmp_path / "sdk.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(SDK_TABLES)
        conn.execute("INSERT INTO agent_sessions (session_id) VALUES ('never-used')")  # no items: not listed
    conn.close()
    said: list[str] = []
    store = SQLiteStore(path, warn=said.append)
    assert asyncio.run(store.list_sessions()) == []
    assert any("0 conversations" in line for line in said), said


def test_an_adoption_that_fails_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kaiwa.store.sqlite import adopt as sqlite_adopt

    path = tmp_path / "sdk.sqlite3"
    write_sdk_file(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = digest(path)

    def broken(conn: sqlite3.Connection, version: int, repair: bool = True) -> int:
        raise sqlite3.OperationalError("disk I/O error")  # after kaiwa's tables and rows went in

    monkeypatch.setattr(sqlite_adopt, "migrate", broken)
    with pytest.raises(KaiwaError):
        asyncio.run(SQLiteStore(path, warn=lambda line: None).open())
    assert digest(path) == before
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        names = {r[0] for r in conn.execute("SELECT session_id FROM agent_sessions")}
    conn.close()
    assert not any(t.startswith("kaiwa_") for t in tables) and "default" in names
    monkeypatch.undo()
    store = SQLiteStore(path, warn=lambda line: None)
    assert len(asyncio.run(store.list_sessions())) == 3
