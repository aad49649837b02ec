"""What automatic compaction costs a long conversation, against compacting by hand, in one run.

    uv run python bench/bench_compact.py [--turns 200] [--window 6000]

A conversation of `--turns` turns (about 90-token messages and answers) through kaiwa's `Conversation` → a REAL
LiteLLM proxy → the OpenAI-compatible stand-in, whose alias `small` has a `--window`-token window it enforces
with OpenAI's own context error and counts itself (`request_tokens`, its usage's prompt_tokens):
- auto: KAIWA_AUTO_COMPACT=80 (the default): compacted in place before a turn that would pass 80%;
- by hand: KAIWA_AUTO_COMPACT=off; when a turn is refused for the window, the user's `/compact` (a new session
  from a summary) and the same message again.
Tokens are the stand-in's count of every request it answered (turns and summaries; refused ones cost nothing);
time is the wall time of the whole series, given as a ratio against the by-hand series of the same run.
Loopback only; stops what it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.harness.proxy import Proxy, build_test_config  # noqa: E402
from tests.standins.openai_compat import OpenAIChatStandIn, request_tokens  # noqa: E402
from tests.standins.script import Reply  # noqa: E402

ANSWER = "Noted; here is what follows from it for the plan, in a few plain sentences of reply text. " * 4


def message(n: int) -> str:
    return f"turn {n}: " + "another detail of the plan to keep in mind for later work. " * 6


@dataclasses.dataclass
class Series:
    name: str
    tokens: int = 0
    requests: int = 0
    compactions: int = 0
    refused: int = 0
    seconds: float = 0.0
    sessions: set[str] = dataclasses.field(default_factory=set)


async def play(base_url: str, key: str, upstream: OpenAIChatStandIn, series: Series, turns: int, home: Path) -> None:
    from kaiwa.core.compact_auto import plain_transcript
    from kaiwa.core.events import ContextCompacted, Event, TurnFailed
    from kaiwa.core.opening import open_conversation
    from kaiwa.core.options import Setup
    from kaiwa.settings import load_settings

    auto = series.name == "auto"
    os.environ.update({"LITELLM_BASE_URL": base_url, "LITELLM_API_KEY": key, "KAIWA_MCP_CONFIG": "",
                       "SESSION_DB_PATH": str(home / f"{series.name}.sqlite3"),
                       "KAIWA_AUTO_COMPACT": "80" if auto else "off"})  # fmt: skip
    settings = load_settings(env_file=None)

    def emit(event: Event) -> None:
        if isinstance(event, ContextCompacted):
            series.compactions += 1

    upstream.reset()
    upstream.script(*[Reply(text=ANSWER) for _ in range(3 * turns)])
    started = time.perf_counter()
    async with open_conversation(settings, Setup(model="small", use_tools=False), emit) as conversation:
        for n in range(turns):
            result = await conversation.send(message(n), emit)
            if isinstance(result, TurnFailed) and result.kind == "context_window" and not auto:
                series.refused += 1
                await conversation.compact(plain_transcript, lambda line: None)  # the user's /compact
                series.compactions += 1
                result = await conversation.send(message(n), emit)
            if isinstance(result, TurnFailed):
                raise SystemExit(f"{series.name} turn {n}: {result.line()}")
            series.sessions.add(conversation.session_id)
    series.seconds = time.perf_counter() - started
    window = upstream.windows["small-upstream"]
    answered = [r.body for r in upstream.model_requests() if request_tokens(r.body) <= window]
    series.requests = len(answered)
    series.tokens = sum(request_tokens(body) for body in answered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--window", type=int, default=6000)
    args = parser.parse_args()
    upstream = OpenAIChatStandIn(windows={"small-upstream": args.window}).start()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        extra: list[dict[str, Any]] = [{
            "model_name": "small",
            "litellm_params": {"model": "openai/small-upstream", "api_base": f"{upstream.url}/v1",
                               "api_key": "sk-fake", "use_chat_completions_api": True},
            "model_info": {"max_input_tokens": args.window, "max_output_tokens": 500},
        }]  # fmt: skip
        config = build_test_config(REPO / "litellm_config.yaml", home / "config.json", {}, extra)
        proxy = Proxy.start(config, {}, home / "proxy.log")
        try:
            results = []
            for name in ("by hand", "auto"):
                series = Series(name)
                asyncio.run(play(proxy.base_url, proxy.master_key, upstream, series, args.turns, home))
                results.append(series)
        finally:
            proxy.stop()
            upstream.stop()
    hand = results[0]
    print(f"{args.turns} turns, window {args.window:,} tokens; bytecode: PYTHONDONTWRITEBYTECODE="
          f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")  # fmt: skip
    print(f"{'series':<8} {'tokens sent':>12} {'requests':>9} {'compactions':>12} {'refused':>8} {'sessions':>9} "
          f"{'tokens ×':>9} {'time ×':>7}")  # fmt: skip
    for s in results:
        print(f"{s.name:<8} {s.tokens:>12,} {s.requests:>9} {s.compactions:>12} {s.refused:>8} {len(s.sessions):>9} "
              f"{s.tokens / hand.tokens:>9.2f} {s.seconds / hand.seconds:>7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
