"""Per-turn cost in a warm process (imports done, first-call costs paid): kaiwa's turn against the floor.

    python bench/turn_worker.py URL DB SESSION_ID INPUT_JSON RUNS [--slow-runs N]

Run as a child of a bench (the stand-in it talks to lives in the parent, so its CPU is not counted here). Prints
one JSON object: CPU milliseconds (this process, all threads) of each measured
- floor: read the same input list from INPUT_JSON and send it in one streamed openai Responses call (through
  `extra_body`: the cost of sending those bytes with the client kaiwa uses);
- turn: `ChatEngine.run_turn` on the stored session (what a resumed one-shot or a REPL turn does after start-up);
- slow: the same turn with KAIWA_SLOW_HISTORY=1 (the old path, in an engine of its own), when --slow-runs > 0.
Reusable for other per-turn benches (the REPL's): `turn_cpu_ms(...)`, `floor_cpu_ms(...)`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def open_sqlite_store(path: Path) -> Any:
    """kaiwa's SQLite store, whichever constructor this checkout has."""
    from kaiwa.store import sqlite

    if hasattr(sqlite, "SQLiteStore"):
        return sqlite.SQLiteStore(path)
    return sqlite.Store(path)


async def floor_cpu_ms(client: Any, items_file: Path) -> float:
    """`client`: an `openai.AsyncOpenAI`, kept across calls as kaiwa keeps its own."""
    began = time.process_time()
    items = json.loads(items_file.read_bytes())
    stream = await client.responses.create(model="m", stream=True, extra_body={"input": items})
    async for _ in stream:
        pass
    return (time.process_time() - began) * 1000


async def turn_cpu_ms(engine: Any, store: Any, session_id: str, text: str) -> float:
    from rich.console import Console

    from kaiwa.core.options import TurnOptions
    from kaiwa.ui.terminal import Renderer

    renderer = Renderer(Console(file=io.StringIO()), Console(file=io.StringIO()), markdown=False, show_reasoning=False)
    began = time.process_time()
    await engine.run_turn(store, session_id, text, TurnOptions(model="m"), renderer)
    renderer.finish()
    return (time.process_time() - began) * 1000


async def main(url: str, db: Path, session_id: str, items_file: Path, runs: int, slow_runs: int) -> dict[str, Any]:
    from openai import AsyncOpenAI

    from kaiwa.core.engine import ChatEngine
    from kaiwa.core.events import ignore
    from kaiwa.core.options import EngineConfig

    store = open_sqlite_store(db)
    if hasattr(store, "open"):
        await store.open()
    config = EngineConfig(base_url=url, api_key="sk-bench", timeout=600, max_retries=0)
    result: dict[str, Any] = {"floor": [], "turn": [], "slow": []}
    client = AsyncOpenAI(base_url=url, api_key="sk-bench", max_retries=0)
    warm = items_file.with_name("warm.json")
    for mode, key, count in (("0", "turn", runs), ("1", "slow", slow_runs)):
        if not count:
            continue
        os.environ["KAIWA_SLOW_HISTORY"] = mode  # read when the engine makes its client and at each turn
        async with ChatEngine(config, ignore) as engine:
            # Warm up on a one-item session: lazy imports and first-call costs are start-up, not resume.
            await floor_cpu_ms(client, warm)
            await turn_cpu_ms(engine, store, "00000000-0000-7000-8000-000000000001", "warm up")
            for _ in range(count):
                if key == "turn":
                    result["floor"].append(await floor_cpu_ms(client, items_file))
                result[key].append(await turn_cpu_ms(engine, store, session_id, "again"))
    await client.close()
    if hasattr(store, "close"):
        closed = store.close()
        if asyncio.iscoroutine(closed):
            await closed
    return result


if __name__ == "__main__":
    url, db, sid, items, runs = sys.argv[1:6]
    slow_runs = int(sys.argv[7]) if len(sys.argv) > 7 and sys.argv[6] == "--slow-runs" else 0
    Path(items).with_name("warm.json").write_text(json.dumps([{"content": "warm up", "role": "user"}]))
    print(json.dumps(asyncio.run(main(url, Path(db), sid, Path(items), int(runs), slow_runs))))
