"""Prompt caching through the REAL LiteLLM proxy loading the shipped `litellm_config.yaml`, on each cloud's
stand-in: the Responses requests kaiwa sends (the whole history every turn, store=false) come out with the
cloud's cache points where the model can cache, turn 2 reads what turn 1 wrote, and the proxy prices it.

No kaiwa here: the openai client sends what the Agents SDK sends, so these pin the config's part alone."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.standins.anthropic import AnthropicStandIn
from tests.standins.bedrock import BedrockStandIn
from tests.standins.prompt_cache import block_tokens
from tests.standins.vertex import VertexStandIn

# About 1,500 tokens: over Claude's 1,024-token minimum, so the system prompt alone is worth caching.
INSTRUCTIONS = "You are kaiwa. Follow the team's style guide to the letter in every answer you give. " * 80


@pytest.fixture
def client(proxy: Any) -> Any:
    import openai

    return openai.OpenAI(base_url=proxy.base_url, api_key=proxy.master_key, max_retries=0)


def ask(client: Any, alias: str, history: list[dict[str, Any]], instructions: str) -> tuple[str, Any]:
    """One streamed turn as the SDK sends it; returns the answer and the final Responses usage."""
    events = list(
        client.responses.create(
            model=alias,
            input=history,
            instructions=instructions,
            store=False,
            stream=True,
            extra_body={"prompt_cache_key": "0198c0de-0000-7000-8000-000000000001"},
        )
    )
    done = [e for e in events if e.type == "response.completed"]
    assert done, [e.type for e in events]
    return "".join(e.delta for e in events if e.type == "response.output_text.delta"), done[-1].response.usage


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def two_turns(client: Any, alias: str) -> tuple[Any, Any, str]:
    """Turn 1, then turn 2 with turn 1 in its history; a fresh instructions text keeps other tests' entries out."""
    instructions = f"[{secrets.token_hex(4)}] {INSTRUCTIONS}"
    answer, one = ask(client, alias, [user("first question")], instructions)
    _, two = ask(client, alias, [user("first question"), assistant(answer), user("second question")], instructions)
    return one, two, instructions


@pytest.mark.parametrize("alias", ["bedrock-claude-sonnet-4-5", "azure-foundry-claude"])
def test_claude_turn_two_reads_what_turn_one_wrote(
    client: Any, alias: str, bedrock: BedrockStandIn, foundry: AnthropicStandIn
) -> None:
    one, two, _ = two_turns(client, alias)
    written = one.input_tokens_details.cache_write_tokens
    assert one.input_tokens_details.cached_tokens == 0 and written > block_tokens({"text": INSTRUCTIONS})
    # system + the first question were written on turn 1; turn 2 reads them and writes its own new part
    assert two.input_tokens_details.cached_tokens == written
    assert 0 < two.input_tokens_details.cache_write_tokens < written
    if alias.startswith("bedrock"):
        points = [
            [i for i, b in enumerate(m["content"]) if "cachePoint" in b]
            for m in bedrock.model_requests()[-1].body["messages"]
        ]
        assert points[-1] and not any(points[:-1])  # the newest message carries the moving point
        assert bedrock.model_requests()[-1].body["system"][-1] == {"cachePoint": {"type": "default"}}
    else:
        body = foundry.model_requests()[-1].body
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
        assert all("cache_control" not in b for m in body["messages"][:-1] for b in m["content"])


def test_claude_priced_as_the_proxy_prices_cache_reads_and_writes(client: Any, foundry: AnthropicStandIn) -> None:
    """LiteLLM's own model map prices azure_ai/claude-sonnet-4-5: reads at 10% of input, writes at 125%."""
    one, two, _ = two_turns(client, "azure-foundry-claude")
    for usage in (one, two):
        details = usage.input_tokens_details
        plain = usage.input_tokens - details.cached_tokens - details.cache_write_tokens
        expected = plain * 3e-6 + details.cached_tokens * 3e-7 + details.cache_write_tokens * 3.75e-6
        expected += usage.output_tokens * 1.5e-5
        assert usage.model_extra["cost"] == pytest.approx(expected, rel=1e-9)


def test_default_alias_sends_no_cache_point_and_caches_nothing(client: Any, bedrock: BedrockStandIn) -> None:
    """AWS offers no prompt caching for Claude 3.5 Sonnet v1: a cachePoint would be refused with a 400."""
    one, two, _ = two_turns(client, "bedrock-claude-3-5-sonnet")
    assert bedrock.rejections == []
    for request in bedrock.model_requests():
        assert "cachePoint" not in str(request.body)
    assert two.input_tokens_details.cached_tokens == 0 and not two.input_tokens_details.cache_write_tokens


def test_gemini_25_reports_its_implicit_cache(client: Any, vertex: VertexStandIn) -> None:
    one, two, _ = two_turns(client, "vertex-gemini-2.5-flash")
    assert one.input_tokens_details.cached_tokens == 0
    # turn 1's whole prompt is a prefix of turn 2's: Gemini reports it cached, and nothing marks it
    assert two.input_tokens_details.cached_tokens == one.input_tokens
    assert "cache_control" not in str([r.body for r in vertex.model_requests()])
    _, older = ask(client, "vertex-gemini-2.0-flash", [user("first question")], INSTRUCTIONS)
    _, older = ask(client, "vertex-gemini-2.0-flash", [user("first question")], INSTRUCTIONS)
    assert older.input_tokens_details.cached_tokens == 0
