"""Many writers at the store level, many more transactions than chat.py processes can afford in CI: OS processes
hammering one SQLite file through SQLiteStore (the same lock and commit a turn uses), with readers searching and
listing meanwhile. No "database is locked" may escape, no turn may be lost or interleaved.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
from pathlib import Path

from kaiwa.store.base import TurnRecord
from tests.harness.db import stored_items

FULL = os.environ.get("KAIWA_RELIABILITY_FULL") == "1"
PROCESSES, TURNS = (8, 200) if FULL else (6, 40)
SHARED_PROCESSES, SHARED_TURNS = (4, 100) if FULL else (4, 20)


def _writer(path: str, worker: int, shared: bool, turns: int, failures: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from kaiwa.store.sqlite import SQLiteStore

    async def work() -> None:
        store = SQLiteStore(path, warn=lambda line: None)
        sid = "shared" if shared else f"session-{worker}"
        for n in range(turns):
            async with store.lock(sid, timeout=120):
                seen = len(await store.items(sid))  # what this turn's model would be sent
                items = [
                    {"role": "user", "content": f"w{worker} n{n}"},
                    {"role": "assistant", "content": f"after {seen}"},
                ]
                await store.commit_turn(sid, items, TurnRecord(model="m", input_tokens=1), title=f"w{worker}")
            if n % 10 == 0:
                await store.search(f"w{worker}")
                await store.list_sessions(limit=5)
        await store.close()

    try:
        asyncio.run(work())
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        failures.put(f"worker {worker}: {type(exc).__name__}: {exc}")


def _run(path: Path, count: int, shared: bool, turns: int) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    failures: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_writer, args=(str(path), w, shared, turns, failures)) for w in range(count)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
    out = []
    while not failures.empty():
        out.append(failures.get())
    assert [p.exitcode for p in procs] == [0] * count
    return out


def test_processes_on_their_own_sessions_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    assert _run(path, PROCESSES, shared=False, turns=TURNS) == []
    for w in range(PROCESSES):
        items = stored_items(path, f"session-{w}")
        assert [i["content"] for i in items[::2]] == [f"w{w} n{n}" for n in range(TURNS)]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kaiwa_turns").fetchone() == (PROCESSES * TURNS,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    print(f"\nstore level: {PROCESSES} processes x {TURNS} turns, 0 lost, 0 errors")


def test_processes_on_one_session_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    assert _run(path, SHARED_PROCESSES, shared=True, turns=SHARED_TURNS) == []
    items = stored_items(path, "shared")
    total = SHARED_PROCESSES * SHARED_TURNS
    assert [i["role"] for i in items] == ["user", "assistant"] * total
    # Each turn saw the whole history before it and nothing else: no two turns ever ran at once.
    assert [i["content"] for i in items[1::2]] == [f"after {2 * k}" for k in range(total)]
    assert sorted(i["content"] for i in items[::2]) == sorted(
        f"w{w} n{n}" for w in range(SHARED_PROCESSES) for n in range(SHARED_TURNS)
    )
    print(f"\nstore level, one session: {SHARED_PROCESSES} processes x {SHARED_TURNS} turns, 0 lost, 0 interleaved")
