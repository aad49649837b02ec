"""What the interactive mode adds to a turn, against a raw openai-client call, in one run.

    uv run python bench/bench_repl.py [--runs 15] [--chunks 20]

One real LiteLLM proxy (from the gateway env) in front of an instant local upstream (the tests' OpenAI-compatible
stand-in). Both sides run in this process, interleaved, after a warm-up:
- baseline: `AsyncOpenAI().responses.stream(...)` through the proxy, the second call of a conversation (the whole
  history sent again, as kaiwa does), text deltas consumed;
- the REPL: `Repl.send()` (a `Conversation` turn) — what Enter triggers: the Agents SDK run, the session store
  (read history, lock, commit in one transaction), Markdown rendering to a terminal console, the usage line, the
  toolbar figures — for the second turn of a new session.
Prints the median wall time of each and the overhead (REPL − baseline). `--phases` also times the parts of a
REPL turn that are not the model call (rendering, the store's commit, reading the history), per turn.
Loopback only; stops what it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import fake_a_proxy  # noqa: E402

from tests.standins.script import Reply  # noqa: E402

ANSWER = "A short answer with **some** Markdown, and a list:\n\n- one\n- two\n- three\n"


async def raw_second_call(client: Any, model: str) -> float:
    """A conversation's second call with the openai client alone; returns its wall seconds."""
    first = [{"role": "user", "content": "hello"}]
    answer = ""
    async with client.responses.stream(model=model, input=first, store=False) as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                answer += event.delta
    history = [*first, {"role": "assistant", "content": answer}, {"role": "user", "content": "and then?"}]
    began = time.perf_counter()
    async with client.responses.stream(model=model, input=history, store=False) as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                sink = event.delta  # noqa: F841 - consumed, as a UI would
    return time.perf_counter() - began


async def repl_second_turn(repl: Any) -> float:
    repl.conversation.new()
    assert await repl.send("hello")
    began = time.perf_counter()
    assert await repl.send("and then?")
    return time.perf_counter() - began


async def measure(base_url: str, api_key: str, home: Path, runs: int) -> tuple[list[float], list[float]]:
    from openai import AsyncOpenAI
    from rich.console import Console

    from kaiwa.core.conversation import Conversation
    from kaiwa.core.events import ignore
    from kaiwa.core.options import EngineConfig, Setup
    from kaiwa.gateway.endpoint import Endpoint
    from kaiwa.settings import load_settings
    from kaiwa.store import open_store
    from kaiwa.ui.face import Face
    from kaiwa.ui.repl.state import Repl

    settings = load_settings(None)
    store = open_store(settings)
    await store.open()
    endpoint = Endpoint(base_url, api_key, managed=False, log_path=None)
    config = EngineConfig(base_url=base_url, api_key=api_key, timeout=60, max_retries=1, use_tools=True)
    conversation = Conversation(settings, Setup(model="fake-a"), store, endpoint, config, ignore)
    repl = Repl(conversation, Face())
    repl.out = Console(file=io.StringIO(), force_terminal=True, width=100)  # Markdown rendered as on a terminal
    repl.err = Console(file=io.StringIO(), force_terminal=True, width=100)
    client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=1)
    raw: list[float] = []
    kaiwa: list[float] = []
    try:
        await conversation.start()
        for _ in range(3):  # warm-up: lazy imports, connections, the proxy's own caches
            await raw_second_call(client, "fake-a")
            await repl_second_turn(repl)
        for _ in range(runs):
            raw.append(await raw_second_call(client, "fake-a"))
            kaiwa.append(await repl_second_turn(repl))
    finally:
        await client.close()
        await conversation.close()
        await store.close()
    return raw, kaiwa


PHASES: dict[str, list[float]] = collections.defaultdict(list)


def time_phases() -> None:
    """Wrap the parts of a turn that are not the model call with timers (only with --phases)."""
    from kaiwa.store.sqlite import SQLiteStore
    from kaiwa.ui.terminal import Renderer

    def timed(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        if asyncio.iscoroutinefunction(original):

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    PHASES[label].append(time.perf_counter() - began)
        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    PHASES[label].append(time.perf_counter() - began)

        setattr(owner, name, wrapper)

    timed(Renderer, "text", "render: text deltas")
    timed(Renderer, "finish", "render: finish")
    timed(SQLiteStore, "commit_turn", "store: commit_turn (one transaction)")
    timed(SQLiteStore, "items", "store: read the history")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--chunks", type=int, default=20, help="text deltas per answer")
    parser.add_argument("--phases", action="store_true", help="also time the parts of a REPL turn")
    args = parser.parse_args()
    if args.phases:
        time_phases()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ.update(
            SESSION_DB_PATH=str(home / "s.sqlite3"), KAIWA_STATE_DIR=str(home / "state"), KAIWA_MCP_CONFIG=""
        )
        os.environ.pop("SESSION_DB_URL", None)
        upstream, proxy = fake_a_proxy(home)
        try:
            upstream.script(*[Reply(text=ANSWER, chunks=args.chunks) for _ in range(4 * (args.runs + 3))])
            raw, kaiwa = asyncio.run(measure(proxy.base_url, proxy.master_key, home, args.runs))
        finally:
            proxy.stop()
            upstream.stop()
    raw_ms, kaiwa_ms = statistics.median(raw) * 1000, statistics.median(kaiwa) * 1000
    compiled = (
        "no .pyc written (PYTHONDONTWRITEBYTECODE=1)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "bytecode"
    )
    print(f"{args.runs} runs, interleaved, after 3 warm-ups; {args.chunks} text deltas per answer; {compiled}")
    print(f"proxy ready in {proxy.started_in:.1f} s\n")
    print(f"{'openai client, 2nd call of a conversation (baseline)':<55} {raw_ms:7.1f} ms median")
    print(f"{'REPL, 2nd turn of a session (Repl.send)':<55} {kaiwa_ms:7.1f} ms median")
    print(f"{'overhead per turn':<55} {kaiwa_ms - raw_ms:+7.1f} ms  (×{kaiwa_ms / raw_ms:.2f}; goal ≤ 10 ms)")
    spread = statistics.quantiles(kaiwa, n=4)
    base_spread = statistics.quantiles(raw, n=4)
    print(
        f"\nquartiles: baseline {base_spread[0] * 1000:.1f}–{base_spread[2] * 1000:.1f} ms, "
        f"REPL {spread[0] * 1000:.1f}–{spread[2] * 1000:.1f} ms"
    )
    if PHASES:
        turns = len(PHASES["store: commit_turn (one transaction)"])  # every turn commits once
        print("\nparts of a REPL turn (mean per turn, every turn of the run):")
        for label, spent in PHASES.items():
            print(f"  {label:<45} {sum(spent) / turns * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
