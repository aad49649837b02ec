"""The SQLite store never blocks the event loop: while another PROCESS holds the file's write lock or a session's
lock, a coroutine on the same loop keeps ticking (a spinner, a streamed answer, an MCP pipe would too)."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kaiwa.store.base import TurnRecord
from kaiwa.store.sqlite import SQLiteStore
from kaiwa.store.sqlite.connect import BUSY_TIMEOUT

HOLD = 2.0  # seconds the other process holds its lock
TICK = 0.02
SID = "0199f000-0000-7000-8000-000000000001"

WRITE_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO kaiwa_meta (key, value) VALUES ('holder', 'x')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""

SESSION_HOLDER = """
import asyncio, sys
from kaiwa.store.sqlite import SQLiteStore
from kaiwa.store.sqlite.connect import BUSY_TIMEOUT
async def main():
    store = SQLiteStore(sys.argv[1], warn=lambda line: None)
    async with store.lock(sys.argv[3]):
        print("locked", flush=True)
        await asyncio.sleep(float(sys.argv[2]))
    await store.close()
asyncio.run(main())
"""


def holder(script: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


async def ticking_while(work: Callable[[], Awaitable[Any]]) -> tuple[float, float, int]:
    """Run `work` with a ticker on the same loop: (how long work took, the longest gap between ticks, ticks)."""
    ticks: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(TICK)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(TICK)
    start = time.monotonic()
    try:
        await work()
    finally:
        took = time.monotonic() - start
        done.set()
        await task
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    return took, max(gaps), len(ticks)


def opened(path: Path) -> SQLiteStore:
    store = SQLiteStore(path, warn=lambda line: None)
    asyncio.run(store.open())
    return store


def test_a_commit_waiting_for_another_writer_leaves_the_loop_free(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    asyncio.run(opened(path).close())
    proc = holder(WRITE_HOLDER, str(path), str(HOLD))
    try:

        async def main() -> tuple[float, float, int]:
            store = SQLiteStore(path, warn=lambda line: None)
            try:
                turn = [{"role": "user", "content": "hi"}]
                return await ticking_while(lambda: store.commit_turn(SID, turn, TurnRecord(model="m"), title="t"))
            finally:
                await store.close()

        took, longest_gap, ticks = asyncio.run(main())
    finally:
        proc.wait(timeout=30)
    assert took > HOLD / 2, f"the commit did not wait for the other writer ({took:.2f} s)"
    assert longest_gap < HOLD / 4, f"the loop stood still for {longest_gap:.2f} s while the commit waited"
    assert ticks > took / TICK / 4
    store = opened(path)
    assert len(asyncio.run(store.items(SID))) == 1  # and it was written, after the other writer


def test_waiting_for_a_session_held_by_another_process_leaves_the_loop_free(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    asyncio.run(opened(path).close())
    proc = holder(SESSION_HOLDER, str(path), str(HOLD), SID)
    waited: list[bool] = []
    try:

        async def main() -> tuple[float, float, int]:
            store = SQLiteStore(path, warn=lambda line: None)

            async def take() -> None:
                async with store.lock(SID, on_wait=lambda: waited.append(True), timeout=30):
                    pass

            try:
                return await ticking_while(take)
            finally:
                await store.close()

        took, longest_gap, ticks = asyncio.run(main())
    finally:
        proc.wait(timeout=30)
    assert waited == [True] and took > HOLD / 2, f"the lock was not held by the other process ({took:.2f} s)"
    assert longest_gap < HOLD / 4, f"the loop stood still for {longest_gap:.2f} s while the lock waited"
    assert ticks > took / TICK / 4


def test_a_cancelled_write_stops_retrying_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """Ctrl-C while a commit waits for another writer: the commit gives up (it is not left retrying in its
    thread to land later), and the session is as it was."""
    path = tmp_path / "db.sqlite3"
    asyncio.run(opened(path).close())
    proc = holder(WRITE_HOLDER, str(path), "8")
    try:

        async def main() -> float:
            asyncio.get_running_loop().set_exception_handler(lambda _loop, context: left.append(context["message"]))
            store = SQLiteStore(path, warn=lambda line: None)
            try:
                turn = [{"role": "user", "content": "cancelled"}]
                task = asyncio.create_task(store.commit_turn(SID, turn, TurnRecord(model="m"), title="t"))
                await asyncio.sleep(0.5)
                start = time.monotonic()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                took = time.monotonic() - start
                del task
                gc.collect()  # the given-up attempt's future, if nobody retrieved its exception, says so now
                return took
            finally:
                await store.close()

        left: list[str] = []
        cancel_took = asyncio.run(main())
        assert left == []  # no "Future exception was never retrieved" (a traceback on the user's screen)
    finally:
        proc.wait(timeout=30)
    # The attempt in flight waits at most its busy timeout (BUSY_TIMEOUT); the retries after it never run.
    assert cancel_took < BUSY_TIMEOUT + 1.5, cancel_took
    store = opened(path)
    assert asyncio.run(store.items(SID)) == [] and asyncio.run(store.get_session(SID)) is None
