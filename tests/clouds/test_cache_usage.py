"""kaiwa's side of prompt caching and the Responses controls, through chat.py, the real proxy and the stand-ins:
the cache reads and writes of each turn in the usage line, `--json`, the store and `sessions show` (with what
caching saved at the proxy's prices), the session id as `prompt_cache_key` (off with KAIWA_PROMPT_CACHE=0), and
`--verbosity` / `--service-tier`: passed on where the model takes them, else left out with one dim notice."""

from __future__ import annotations

import json
import secrets
import sqlite3
from typing import Any

from tests.conftest import Kaiwa, Run
from tests.standins.anthropic import AnthropicStandIn
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.responses import ResponsesStandIn
from tests.standins.script import Reply, ToolCall

INSTRUCTIONS = "Review every change as the team's most careful engineer would, and say why. " * 70
# LiteLLM's model map for azure_ai/claude-sonnet-4-5, USD per token: input, cache read, cache write
PRICE, READ, WRITE = 3e-6, 3e-7, 3.75e-6


def ok(run: Run) -> Run:
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    return run


def done(run: Run) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(ok(run).out.splitlines()[-1])
    assert event["type"] == "done", run.out
    return event


def test_cache_reads_and_writes_per_turn_everywhere(kaiwa: Kaiwa, foundry: AnthropicStandIn) -> None:
    foundry.script(Reply(text="First."), Reply(text="Second."))
    system = f"[{secrets.token_hex(4)}] {INSTRUCTIONS}"
    args = ("--model", "azure-foundry-claude", "--system", system)
    first = done(kaiwa("--json", "--input", "one", *args))
    sid = first["session_id"]
    one = foundry.cache_usage[-1]
    assert one.write_tokens > 1024 and one.read_tokens == 0
    assert first["usage"]["cache_write_tokens"] == one.write_tokens and first["usage"]["cached_tokens"] == 0
    assert first["usage"]["input_tokens"] == one.total

    second = ok(kaiwa("--input", "two", "--session-id", sid, *args))
    two = foundry.cache_usage[-1]
    assert two.read_tokens == one.write_tokens  # turn 2 read what turn 1 wrote
    line = f"azure-foundry-claude · {two.input_tokens:,} in ({two.read_tokens:,} cached, {two.write_tokens:,} written)"
    assert line in second.err, second.err

    with sqlite3.connect(kaiwa.db) as conn:
        rows = conn.execute(
            "SELECT cached_tokens, cache_write_tokens FROM kaiwa_turns WHERE session_id=? ORDER BY id", (sid,)
        ).fetchall()
    assert rows == [(0, one.write_tokens), (two.read_tokens, two.write_tokens)]

    saved = (one.read_tokens + two.read_tokens) * (PRICE - READ) - (one.write_tokens + two.write_tokens) * (
        WRITE - PRICE
    )
    shown = ok(kaiwa("sessions", "show", sid))  # piped: Markdown
    read, written = two.read_tokens, one.write_tokens + two.write_tokens
    assert f"prompt cache: {read:,} cached · {written:,} written · caching " in shown.out, shown.out
    word = "saved" if saved >= 0 else "cost"
    assert f"caching {word} ${abs(saved):.6f}".rstrip("0").rstrip(".") in shown.out
    as_json = json.loads(ok(kaiwa("sessions", "show", sid, "--json")).out)
    assert [(t["cached_tokens"], t["cache_write_tokens"]) for t in as_json["turn_usage"]] == rows


def test_the_session_id_is_the_prompt_cache_key_of_every_request(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "6*7"}, "call_1")]),
        Reply(text="42."),
        Reply(text="Again."),
    )
    sid = ok(kaiwa("--input", "6*7?")).session_id
    assert sid
    ok(kaiwa("--input", "again", "--session-id", sid))
    keys = [r.body.get("prompt_cache_key") for r in upstream.model_requests()]
    assert keys == [sid, sid, sid]

    upstream.reset()
    upstream.script(Reply(text="No key."))
    ok(kaiwa("--input", "hello", KAIWA_PROMPT_CACHE="0"))
    assert "prompt_cache_key" not in upstream.model_requests()[-1].body
    bad = kaiwa("--input", "hello", KAIWA_PROMPT_CACHE="sometimes")
    assert bad.code == 2 and "KAIWA_PROMPT_CACHE='sometimes' is not one of" in bad.err, bad.err


def test_verbosity_and_service_tier_reach_a_model_that_takes_them(kaiwa: Kaiwa, native: ResponsesStandIn) -> None:
    native.script(Reply(text="Short."))
    run = ok(kaiwa("--input", "hi", "--model", "fake-native", "--verbosity", "LOW", "--service-tier", "flex"))
    body = native.model_requests()[-1].body
    assert body["text"]["verbosity"] == "low" and body["service_tier"] == "flex"
    assert body["prompt_cache_key"] == run.session_id
    assert "not sent" not in run.err


def test_a_control_the_model_does_not_take_is_left_out_with_a_notice(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="Fine."))
    run = ok(kaiwa("--input", "hi", "--verbosity", "high", "--service-tier", "priority"))
    notices = [line for line in run.err.splitlines() if "not sent" in line]
    assert notices == ["verbosity high not sent: fake-a does not take it (so says the proxy)"], run.err
    refused = kaiwa("--input", "hi", "--verbosity", "loud")
    assert refused.code == 2 and "--verbosity 'loud' is not one of low, medium, high" in refused.err
