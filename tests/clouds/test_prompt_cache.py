"""The stand-ins' prompt caches, directly over HTTP in each cloud's own protocol: Claude's explicit prefix
cache on the Anthropic (`cache_control`) and Bedrock (`cachePoint`) stand-ins, Gemini 2.5's implicit one on
the Vertex stand-in. What a cloud documents is what is checked: the 1,024-token minimum, exact bytes up to a
point, the 20-block lookback, the 5-minute lifetime refreshed by a hit, the 4-point limit and its 400."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clouds.test_standin_bedrock import SONNET_35, SONNET_45, converse_url, signed_request
from tests.clouds.test_standin_bedrock import post as bedrock_post
from tests.clouds.test_standin_vertex import ServiceAccount, model_url, token, vertex  # noqa: F401 (fixtures)
from tests.clouds.test_standin_vertex import post as vertex_post
from tests.clouds.test_standins_openai_anthropic import post as anthropic_post
from tests.standins.anthropic import MESSAGES_PATH, AnthropicStandIn
from tests.standins.bedrock import MSG_CACHE_UNSUPPORTED, BedrockStandIn
from tests.standins.prompt_cache import TTL_SECONDS, block_tokens
from tests.standins.vertex import VertexStandIn

EPHEMERAL = {"type": "ephemeral"}
# About 1,500 tokens by the stand-ins' rule (4 bytes a token): over Claude's 1,024-token minimum.
LONG = "The kaiwa house rules, read carefully before answering. " * 108
SHORT = "Be brief."


class Clock:
    """A hand-moved clock for a stand-in's cache: lifetimes pass without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- Anthropic (Foundry) -----------------------------------------------------------------------------------
@pytest.fixture
def claude() -> Iterator[tuple[AnthropicStandIn, Clock]]:
    stand_in = AnthropicStandIn().start()
    clock = Clock()
    stand_in.cache.clock = clock
    yield stand_in, clock
    stand_in.stop()


def text(words: str, marked: bool = False) -> dict[str, Any]:
    return {"type": "text", "text": words, **({"cache_control": EPHEMERAL} if marked else {})}


def ask_claude(stand_in: AnthropicStandIn, system: list[dict[str, Any]], messages: list[Any]) -> dict[str, Any]:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": system, "messages": messages}
    status, raw = anthropic_post(stand_in.port, MESSAGES_PATH, body, {"x-api-key": "k"})
    data: dict[str, Any] = json.loads(raw)
    assert status == 200, data
    usage: dict[str, Any] = data["usage"]
    return usage


def turn(role: str, *blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "content": list(blocks)}


def test_input_tokens_are_counted_from_the_request(claude: tuple[AnthropicStandIn, Clock]) -> None:
    stand_in, _ = claude
    usage = ask_claude(stand_in, [text(SHORT)], [turn("user", text("héllo"))])
    # the documented rule: 1 + ceil(UTF-8 bytes of the block's strings / 4), per block
    expected = block_tokens({"type": "text", "text": SHORT}) + block_tokens({"type": "text", "text": "héllo"})
    assert expected == (1 + 3) + (1 + 2)  # 9 and 6 bytes (é is two); the block's type is free
    assert usage["input_tokens"] == expected
    assert usage["cache_read_input_tokens"] == 0 and usage["cache_creation_input_tokens"] == 0


def test_a_short_prefix_is_not_cached(claude: tuple[AnthropicStandIn, Clock]) -> None:
    stand_in, _ = claude
    for _ in range(2):
        usage = ask_claude(stand_in, [text(SHORT, marked=True)], [turn("user", text("hi"))])
        assert usage["cache_read_input_tokens"] == 0 and usage["cache_creation_input_tokens"] == 0


def test_write_then_read_then_a_changed_byte_misses(claude: tuple[AnthropicStandIn, Clock]) -> None:
    stand_in, _ = claude
    system_tokens = block_tokens(text(LONG))
    assert system_tokens >= 1024
    first = ask_claude(stand_in, [text(LONG, marked=True)], [turn("user", text("hi"))])
    assert first["cache_creation_input_tokens"] == system_tokens and first["cache_read_input_tokens"] == 0
    assert first["cache_creation"] == {"ephemeral_5m_input_tokens": system_tokens, "ephemeral_1h_input_tokens": 0}
    assert first["input_tokens"] == block_tokens(text("hi"))  # only what follows the point is plain input
    second = ask_claude(stand_in, [text(LONG, marked=True)], [turn("user", text("hello"))])
    assert second["cache_read_input_tokens"] == system_tokens and second["cache_creation_input_tokens"] == 0
    changed = ask_claude(stand_in, [text(LONG + "!", marked=True)], [turn("user", text("hi"))])
    assert changed["cache_read_input_tokens"] == 0 and changed["cache_creation_input_tokens"] > 0


def test_the_conversation_reads_what_the_previous_turn_wrote(claude: tuple[AnthropicStandIn, Clock]) -> None:
    """One moving point on the newest message: turn 2's point finds turn 1's by looking back."""
    stand_in, _ = claude
    system = [text(LONG, marked=True)]
    one = ask_claude(stand_in, system, [turn("user", text("question one", marked=True))])
    written = one["cache_creation_input_tokens"]
    assert written == block_tokens(text(LONG)) + block_tokens(text("question one"))
    history = [turn("user", text("question one")), turn("assistant", text("answer one"))]
    two = ask_claude(stand_in, system, [*history, turn("user", text("question two", marked=True))])
    assert two["cache_read_input_tokens"] == written
    assert two["cache_creation_input_tokens"] == block_tokens(text("answer one")) + block_tokens(text("question two"))
    assert two["input_tokens"] == 0


def test_the_lookback_stops_after_20_blocks(claude: tuple[AnthropicStandIn, Clock]) -> None:
    stand_in, _ = claude
    system = [text(LONG, marked=True)]
    ask_claude(stand_in, system, [turn("user", text("start", marked=True))])
    far = [text(f"note {i}") for i in range(20)]  # 20 blocks, then the marked one: 21 back
    usage = ask_claude(stand_in, system, [turn("user", text("start"), *far, text("end", marked=True))])
    assert usage["cache_read_input_tokens"] == block_tokens(text(LONG))  # only the system's own point hit
    near = ask_claude(stand_in, system, [turn("user", text("start"), *far[:19], text("end", marked=True))])
    assert near["cache_read_input_tokens"] == block_tokens(text(LONG)) + block_tokens(text("start"))


def test_five_minutes_refreshed_by_each_hit(claude: tuple[AnthropicStandIn, Clock]) -> None:
    stand_in, clock = claude
    ask = [[text(LONG, marked=True)], [turn("user", text("hi"))]]
    ask_claude(stand_in, *ask)
    clock.now += TTL_SECONDS - 1
    assert ask_claude(stand_in, *ask)["cache_read_input_tokens"] > 0  # a hit: alive for 5 more minutes
    clock.now += TTL_SECONDS - 1
    assert ask_claude(stand_in, *ask)["cache_read_input_tokens"] > 0
    clock.now += TTL_SECONDS + 1
    expired = ask_claude(stand_in, *ask)
    assert expired["cache_read_input_tokens"] == 0 and expired["cache_creation_input_tokens"] > 0


def test_more_than_four_points_is_anthropics_400(claude: tuple[AnthropicStandIn, Clock]) -> None:
    stand_in, _ = claude
    marks = [text(f"part {i}", marked=True) for i in range(4)]
    ask_claude(stand_in, [text(LONG)], [turn("user", *marks)])  # 4 is allowed
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "system": [text(LONG, marked=True)],
        "messages": [turn("user", *marks)],
    }
    status, raw = anthropic_post(stand_in.port, MESSAGES_PATH, body, {"x-api-key": "k"})
    error = json.loads(raw)["error"]
    assert status == 400 and error["type"] == "invalid_request_error"
    assert error["message"] == "A maximum of 4 blocks with cache_control may be provided. Found 5."
    assert stand_in.rejections == ["cache-points-max-4"]


# -- Bedrock -----------------------------------------------------------------------------------------------
@pytest.fixture
def bedrock() -> Iterator[tuple[BedrockStandIn, Clock]]:
    stand_in = BedrockStandIn().start()
    clock = Clock()
    stand_in.cache.clock = clock
    yield stand_in, clock
    stand_in.stop()


POINT = {"cachePoint": {"type": "default"}}


def converse(stand_in: BedrockStandIn, model: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, _, raw = bedrock_post(signed_request(converse_url(stand_in, model), body))
    return status, json.loads(raw)


def test_bedrock_cache_points_write_and_read(bedrock: tuple[BedrockStandIn, Clock]) -> None:
    stand_in, _ = bedrock
    system = [{"text": LONG}, POINT]
    one = {"system": system, "messages": [{"role": "user", "content": [{"text": "question one"}, POINT]}]}
    status, data = converse(stand_in, SONNET_45, one)
    assert status == 200, data
    written = block_tokens({"text": LONG}) + block_tokens({"text": "question one"})
    assert data["usage"]["cacheWriteInputTokens"] == written and data["usage"]["cacheReadInputTokens"] == 0
    assert data["usage"]["cacheDetails"] == [{"ttl": "5m", "inputTokens": written}]
    assert data["usage"]["inputTokens"] == 0 and data["usage"]["totalTokens"] == written + 7
    two = {
        "system": system,
        "messages": [
            {"role": "user", "content": [{"text": "question one"}]},
            {"role": "assistant", "content": [{"text": "answer one"}]},
            {"role": "user", "content": [{"text": "question two"}, POINT]},
        ],
    }
    status, data = converse(stand_in, SONNET_45, two)
    assert status == 200 and data["usage"]["cacheReadInputTokens"] == written
    assert data["usage"]["cacheWriteInputTokens"] == block_tokens({"text": "answer one"}) + block_tokens(
        {"text": "question two"}
    )
    assert stand_in.calls[-1].cache is not None and stand_in.calls[-1].cache.read_tokens == written


def test_bedrock_refuses_cache_points_where_the_model_has_no_caching(bedrock: tuple[BedrockStandIn, Clock]) -> None:
    stand_in, _ = bedrock
    body = {"system": [{"text": LONG}, POINT], "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    status, data = converse(stand_in, SONNET_35, body)
    assert status == 400 and data == {"message": MSG_CACHE_UNSUPPORTED}
    assert stand_in.rejections == ["cache-point-model-supported"]
    status, data = converse(stand_in, SONNET_35, {**body, "system": [{"text": LONG}]})
    assert status == 200 and data["usage"]["cacheReadInputTokens"] == 0  # the same request without a point


def test_bedrock_more_than_four_points(bedrock: tuple[BedrockStandIn, Clock]) -> None:
    stand_in, _ = bedrock
    content = [block for i in range(5) for block in ({"text": f"part {i}"}, POINT)]
    status, data = converse(stand_in, SONNET_45, {"messages": [{"role": "user", "content": content}]})
    assert status == 400 and data == {
        "message": "The model returned the following errors: A maximum of 4 blocks with cache_control may be "
        "provided. Found 5."
    }


# -- Vertex (Gemini 2.5, implicit) -------------------------------------------------------------------------
def gemini(stand_in: VertexStandIn, bearer: str, model: str, contents: list[Any]) -> dict[str, Any]:
    body = {"systemInstruction": {"parts": [{"text": LONG}]}, "contents": contents}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {bearer}"}
    status, raw = vertex_post(model_url(stand_in, model), json.dumps(body).encode(), headers)
    data: dict[str, Any] = json.loads(raw)
    assert status == 200, data
    usage: dict[str, Any] = data["usageMetadata"]
    return usage


def test_gemini_25_reports_a_repeated_prefix(vertex: tuple[VertexStandIn, ServiceAccount], token: str) -> None:  # noqa: F811
    stand_in, _ = vertex
    clock = Clock()
    stand_in.cache.clock = clock
    one = [{"role": "user", "parts": [{"text": "question one"}]}]
    first = gemini(stand_in, token, "gemini-2.5-flash", one)
    prefix = block_tokens({"text": LONG}) + block_tokens({"text": "question one"})
    assert first["promptTokenCount"] == prefix and "cachedContentTokenCount" not in first
    two = [*one, {"role": "model", "parts": [{"text": "answer"}]}, {"role": "user", "parts": [{"text": "two"}]}]
    second = gemini(stand_in, token, "gemini-2.5-flash", two)
    assert second["cachedContentTokenCount"] == prefix  # a part of promptTokenCount, which counts it too
    assert second["promptTokenCount"] == prefix + block_tokens({"text": "answer"}) + block_tokens({"text": "two"})
    clock.now += TTL_SECONDS + 1
    assert "cachedContentTokenCount" not in gemini(stand_in, token, "gemini-2.5-flash", two)
    # Gemini 2.0 has no implicit caching
    gemini(stand_in, token, "gemini-2.0-flash", one)
    assert "cachedContentTokenCount" not in gemini(stand_in, token, "gemini-2.0-flash", one)


def test_gemini_short_prefix_is_not_reported(vertex: tuple[VertexStandIn, ServiceAccount], token: str) -> None:  # noqa: F811
    stand_in, _ = vertex
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).encode()
    for _ in range(2):
        status, raw = vertex_post(model_url(stand_in, "gemini-2.5-flash"), body, headers)
        assert status == 200 and "cachedContentTokenCount" not in json.loads(raw)["usageMetadata"]
