"""What prompt caching saves over a long conversation, per cloud alias, with and without caching in one run.

    uv run python bench/bench_cache.py [--turns 30] [--aliases a,b,...]

A 30-turn conversation (2,000-token instructions, 300-token user messages and answers) through kaiwa's own
turn engine (in this process: the Agents SDK, the store, the built-in tools) → a REAL LiteLLM proxy → the
cloud stand-ins, whose prompt caches behave as the clouds document (tests/standins/prompt_cache.py):
- with caching: the shipped `litellm_config.yaml` (Claude: a cache point after the system prompt and one on
  the newest message; Gemini 2.5: its implicit cache);
- without: the same config with `enable_anthropic_prompt_caching: false` on a second proxy (Claude), and the
  Vertex stand-in's cache emptied before every turn (Gemini: implicit caching cannot be switched off).
Token figures are what each stand-in billed (input at full price, cache reads, cache writes); prices are the
proxy's (`/model/info`, LiteLLM's model map), and each turn's cost is checked against the cost the proxy put in
kaiwa's record. Goal: input cost with caching <= 25% of the uncached one at 30 turns on the Claude aliases that
cache. Loopback only; stops what it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kaiwa.gateway.proxy_info import Prices, model_prices  # noqa: E402
from tests.harness.proxy import Proxy, build_test_config, fake_cloud_env, load_yaml, write_config  # noqa: E402
from tests.standins.anthropic import AnthropicStandIn  # noqa: E402
from tests.standins.bedrock import BedrockStandIn  # noqa: E402
from tests.standins.prompt_cache import CacheUsage  # noqa: E402
from tests.standins.script import Reply  # noqa: E402
from tests.standins.vertex import VertexStandIn  # noqa: E402

ALIASES = ("bedrock-claude-sonnet-4-5", "azure-foundry-claude", "bedrock-claude-3-5-sonnet", "vertex-gemini-2.5-flash")
# ~4 bytes a token (the stand-ins' rule): 2,000-token instructions, 300-token messages.
INSTRUCTIONS = "You are the team's assistant. Follow the house style, cite files by path, keep answers short. " * 84
MESSAGE = "Here is the next part of the design we are discussing, with the numbers from last week's run. " * 12


def message(kind: str, n: int) -> str:
    return f"[{kind} {n}] " + MESSAGE


@dataclass
class Series:
    alias: str
    cached: bool
    usage: list[CacheUsage] = field(default_factory=list)  # what the cloud billed, per turn
    output_tokens: int = 0
    proxy_cost: float = 0.0  # the sum of the costs the proxy reported (kaiwa's records)

    def input_cost(self, prices: Prices) -> float:
        return sum(
            u.input_tokens * prices.input + u.read_tokens * prices.cache_read + u.write_tokens * prices.cache_write
            for u in self.usage
        )


def with_caching_off(shipped: Path, out: Path) -> Path:
    config = load_yaml(shipped)
    config.setdefault("litellm_settings", {})["enable_anthropic_prompt_caching"] = False
    return write_config(out, config)


def billed(stand_ins: dict[str, Any], alias: str) -> CacheUsage:
    """What the cloud's stand-in measured for its latest request."""
    stand_in = stand_ins[cloud_of(alias)]
    usage = stand_in.cache_usage[-1] if cloud_of(alias) == "foundry" else stand_in.calls[-1].cache
    assert isinstance(usage, CacheUsage)
    return usage


def cloud_of(alias: str) -> str:
    return "bedrock" if alias.startswith("bedrock") else "foundry" if alias.startswith("azure") else "vertex"


async def play(proxy: Proxy, stand_ins: dict[str, Any], series: Series, turns: int, home: Path) -> None:
    from rich.console import Console

    from kaiwa.core.engine import ChatEngine
    from kaiwa.core.events import ignore
    from kaiwa.core.options import EngineConfig, TurnOptions
    from kaiwa.store.ids import new_session_id
    from kaiwa.store.sqlite import SQLiteStore
    from kaiwa.ui.terminal import Renderer

    store = SQLiteStore(home / f"{series.alias}-{series.cached}.sqlite3")
    await store.open()
    session_id = new_session_id()
    config = EngineConfig(base_url=proxy.base_url, api_key=proxy.master_key, timeout=120, max_retries=0)
    options = TurnOptions(model=series.alias, instructions=INSTRUCTIONS)
    for stand_in in stand_ins.values():  # each series starts with the clouds' caches empty
        stand_in.cache.clear()
    async with ChatEngine(config, ignore) as engine:
        for n in range(1, turns + 1):
            if series.alias.startswith("vertex") and not series.cached:
                stand_ins["vertex"].cache.clear()
            stand_ins[cloud_of(series.alias)].script(Reply(text=message("answer", n), output_tokens=300))
            quiet = Console(file=io.StringIO())
            renderer = Renderer(quiet, Console(file=io.StringIO()), markdown=False, show_reasoning=False)
            result = await engine.run_turn(store, session_id, message("question", n), options, renderer)
            renderer.finish()
            series.usage.append(billed(stand_ins, series.alias))
            series.output_tokens += result.record.output_tokens
            series.proxy_cost += result.record.cost or 0.0
            billed_now = series.usage[-1]
            stored = (result.record.cached_tokens, result.record.cache_write_tokens)
            if stored != (billed_now.read_tokens, billed_now.write_tokens):
                raise SystemExit(
                    f"{series.alias} turn {n}: kaiwa stored {stored} cache reads/writes, "
                    f"the cloud billed {(billed_now.read_tokens, billed_now.write_tokens)}"
                )
    await store.close()


def report(alias: str, off: Series, on: Series, prices: Prices) -> None:
    base = off.input_cost(prices)
    for series in (off, on):
        cost = series.input_cost(prices)
        full = sum(u.input_tokens for u in series.usage)
        reads = sum(u.read_tokens for u in series.usage)
        writes = sum(u.write_tokens for u in series.usage)
        expected_total = cost + series.output_tokens * prices.output
        check = "ok" if abs(expected_total - series.proxy_cost) <= 1e-9 + 1e-6 * expected_total else "MISMATCH"
        label = "cached" if series.cached else "uncached"
        print(
            f"{alias:<28} {label:<9} {full:>11,} {reads:>11,} {writes:>10,} {cost:>10.4f} "
            f"{series.proxy_cost:>10.4f} {check:>6} {cost / base:>7.1%}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--aliases", default=",".join(ALIASES))
    args = parser.parse_args()
    aliases = args.aliases.split(",")
    home = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    stand_ins: dict[str, Any] = {
        "bedrock": BedrockStandIn(region="us-east-1").start(),
        "foundry": AnthropicStandIn().start(),
        "vertex": VertexStandIn().start(),
    }
    proxies: list[Proxy] = []
    try:
        endpoints = {"bedrock": stand_ins["bedrock"].url, "vertex_ai": stand_ins["vertex"].url}
        shipped = build_test_config(REPO / "litellm_config.yaml", home / "on.json", endpoints, [])
        off = with_caching_off(shipped, home / "off.json")
        env = fake_cloud_env(home, bedrock=stand_ins["bedrock"], azure=stand_ins["foundry"], vertex=stand_ins["vertex"])
        with ThreadPoolExecutor(2) as pool:  # the two proxies start side by side (10-30 s each)
            futures = [pool.submit(Proxy.start, cfg, env, home / f"{cfg.stem}.log") for cfg in (shipped, off)]
            proxies = [f.result() for f in futures]
        cached_proxy, uncached_proxy = proxies
        print(f"\n{args.turns}-turn conversation; tokens as billed by each cloud's stand-in, costs in USD")
        print(
            f"{'alias':<28} {'caching':<9} {'full price':>11} {'cache read':>11} {'cache write':>10} "
            f"{'input $':>10} {'proxy $':>10} {'check':>6} {'input %':>7}"
        )
        for alias in aliases:
            off_series, on_series = Series(alias, False), Series(alias, True)
            asyncio.run(play(uncached_proxy, stand_ins, off_series, args.turns, home))
            asyncio.run(play(cached_proxy, stand_ins, on_series, args.turns, home))
            prices = model_prices(cached_proxy.base_url, cached_proxy.master_key)  # kaiwa's own reading of them
            assert prices is not None and alias in prices, f"the proxy gave no prices for {alias}"
            report(alias, off_series, on_series, prices[alias])
        print(
            "\ninput %: input cost against the same alias uncached; proxy $: the costs the proxy reported "
            "(input and output); check: proxy $ = input $ + output tokens at the proxy's output price"
        )
    finally:
        for proxy in proxies:
            proxy.stop()
        for stand_in in stand_ins.values():
            stand_in.stop()


if __name__ == "__main__":
    main()
