"""Export and import (kaiwa/store/dump.py): lossless both ways, and an export written before schema 3 (no role,
no cache writes) still imports."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from kaiwa.store.base import SessionDump, SessionInfo, TurnRecord
from kaiwa.store.dump import dumps, from_json, imported, load
from kaiwa.store.sqlite import SQLiteStore

SID = "0199e000-0000-7000-8000-000000000001"
ITEMS = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def test_an_export_carries_the_role_and_cache_writes_and_imports_them_back(tmp_path: Path) -> None:
    info = SessionInfo(SID, 1000.0, 2000.0, "fake-a", "hi", instructions="be brief", role="reviewer")
    turns = [TurnRecord("fake-a", 10, 2, cached_tokens=3, cache_write_tokens=1800, created_at=1500.0)]
    text = dumps(SessionDump(info, ITEMS, turns))
    data = json.loads(text)
    assert data["session"]["role"] == "reviewer" and data["turns"][0]["cache_write_tokens"] == 1800

    async def body() -> tuple[SessionInfo | None, list[TurnRecord]]:
        store = SQLiteStore(tmp_path / "db.sqlite3", warn=lambda line: None)
        await store.open()
        try:
            await store.create_session(imported(from_json(data), new_id=False))
            again = await load(store, (await store.list_sessions())[0])
            assert json.loads(dumps(again))["session"]["role"] == "reviewer"
            return await store.get_session(SID), await store.turns(SID)
        finally:
            await store.close()

    got, got_turns = asyncio.run(body())
    assert got is not None and (got.role, got.instructions, got.origin) == ("reviewer", "be brief", "imported")
    assert got_turns == turns


def test_an_export_from_before_schema_3_still_imports() -> None:
    old = {
        "format": "kaiwa-session",
        "version": 1,
        "session": {
            "id": SID,
            "title": "hi",
            "model": "fake-a",
            "created_at": "2026-11-01T10:00:00+00:00",
            "updated_at": "2026-11-01T10:05:00+00:00",
            "instructions": None,
            "origin": None,
        },
        "items": ITEMS,
        "turns": [
            {
                "model": "fake-a",
                "input_tokens": 10,
                "output_tokens": 2,
                "reasoning_tokens": 0,
                "cached_tokens": 3,
                "cost": None,
                "request_ids": ["r1"],
                "duration_ms": 40,
                "created_at": "2026-11-01T10:05:00+00:00",
            }
        ],
    }
    dump = from_json(old)
    assert dump.info.role is None and dump.info.turns == 1 and dump.items == ITEMS
    [turn] = dump.turns
    assert (turn.cached_tokens, turn.cache_write_tokens, turn.request_ids) == (3, 0, ("r1",))
