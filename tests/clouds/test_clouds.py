"""Each shipped cloud alias end to end: chat.py as a subprocess → the REAL LiteLLM proxy loading the shipped
`litellm_config.yaml` (only endpoints and credentials overridden) → a local stand-in speaking that cloud's
own wire protocol (Bedrock ConverseStream, Azure AI Foundry's Anthropic Messages, Vertex Gemini SSE).

Each stand-in is strict where the real service is (alternating roles, tool results answering tool uses,
signed thinking), so a history that kaiwa or the bridge mangles is refused here as it would be in the cloud.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.conftest import FOUNDRY_KEY, Kaiwa, Run
from tests.harness.db import stored_items
from tests.standins.anthropic import AnthropicStandIn
from tests.standins.bedrock import ACCESS_KEY, SECRET_KEY, BedrockStandIn
from tests.standins.script import Reply, ToolCall
from tests.standins.server import StandIn
from tests.standins.vertex import VertexStandIn

Turn = tuple[str, str]  # (role in the cloud's own words, the text of that message)


# -- each cloud's own format, read back into (role, text) pairs --------------------------------------------
def _bedrock_history(s: BedrockStandIn) -> list[Turn]:
    return [(m["role"], "".join(b.get("text", "") for b in m["content"])) for m in s.calls[-1].messages]


def _anthropic_messages(s: AnthropicStandIn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = s.model_requests()[-1].body["messages"]
    return messages


def _anthropic_history(s: AnthropicStandIn) -> list[Turn]:
    out = []
    for m in _anthropic_messages(s):
        content = m["content"]
        text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
        out.append((m["role"], text))
    return out


def _vertex_history(s: VertexStandIn) -> list[Turn]:
    return [(c["role"], "".join(p.get("text", "") for p in c["parts"])) for c in s.calls[-1].contents]


def _bedrock_streamed(s: BedrockStandIn) -> bool:
    return bool(s.calls) and all(c.stream for c in s.calls)


def _anthropic_streamed(s: AnthropicStandIn) -> bool:
    bodies = [r.body for r in s.model_requests()]
    return bool(bodies) and all(b.get("stream") is True for b in bodies)


def _vertex_streamed(s: VertexStandIn) -> bool:
    return bool(s.calls) and all(c.stream and "alt=sse" in c.query for c in s.calls)


def _bedrock_tool_results(s: BedrockStandIn) -> list[dict[str, Any]]:
    return [b["toolResult"] for b in s.calls[-1].messages[-1]["content"] if "toolResult" in b]


def _anthropic_tool_results(s: AnthropicStandIn) -> list[dict[str, Any]]:
    content = _anthropic_messages(s)[-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def _vertex_tool_results(s: VertexStandIn) -> list[dict[str, Any]]:
    return [p["functionResponse"] for p in s.calls[-1].contents[-1]["parts"] if "functionResponse" in p]


def _bedrock_attempts(s: BedrockStandIn) -> int:
    return len(s.calls)


def _vertex_attempts(s: VertexStandIn) -> int:
    return len(s.calls)


def _anthropic_attempts(s: AnthropicStandIn) -> int:
    return len(s.model_requests())


@dataclass(frozen=True)
class Cloud:
    alias: str
    fixture: str  # the per-test fixture that hands out the (reset) stand-in
    assistant: str  # the cloud's word for the model's role
    history: Callable[[Any], list[Turn]]
    streamed: Callable[[Any], bool]
    tool_results: Callable[[Any], list[dict[str, Any]]]
    attempts: Callable[[Any], int]

    def __str__(self) -> str:
        return self.alias


BEDROCK = Cloud(
    "bedrock-claude-3-5-sonnet",
    "bedrock",
    "assistant",
    _bedrock_history,
    _bedrock_streamed,
    _bedrock_tool_results,
    _bedrock_attempts,
)
FOUNDRY = Cloud(
    "azure-foundry-claude",
    "foundry",
    "assistant",
    _anthropic_history,
    _anthropic_streamed,
    _anthropic_tool_results,
    _anthropic_attempts,
)
VERTEX = Cloud(
    "vertex-gemini-2.0-flash",
    "vertex",
    "model",
    _vertex_history,
    _vertex_streamed,
    _vertex_tool_results,
    _vertex_attempts,
)
CLOUDS = [pytest.param(c, id=c.alias) for c in (BEDROCK, FOUNDRY, VERTEX)]


def stand_in_for(cloud: Cloud, request: pytest.FixtureRequest) -> StandIn:
    stand_in: StandIn = request.getfixturevalue(cloud.fixture)
    return stand_in


def ok(run: Run) -> Run:
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    return run


# -- 1. streaming text -------------------------------------------------------------------------------------
@pytest.mark.parametrize("cloud", CLOUDS)
def test_streaming_text(cloud: Cloud, kaiwa: Kaiwa, request: pytest.FixtureRequest) -> None:
    stand_in = stand_in_for(cloud, request)
    stand_in.script(Reply(text="こんにちは、雲の上から。Hello from the cloud!", chunks=6))
    run = ok(kaiwa("--input", "こんにちは", "--model", cloud.alias))
    assert run.out == "こんにちは、雲の上から。Hello from the cloud!\n"
    assert run.session_id and cloud.alias in run.err  # the usage line names the alias
    assert cloud.streamed(stand_in), "the proxy did not use the cloud's streaming API"
    assert cloud.history(stand_in) == [("user", "こんにちは")]
    assert cloud.attempts(stand_in) == 1
    assert stand_in.rejections == []


# -- 2. a tool call round trip -----------------------------------------------------------------------------
@pytest.mark.parametrize("cloud", CLOUDS)
def test_tool_call_round_trip(cloud: Cloud, kaiwa: Kaiwa, request: pytest.FixtureRequest) -> None:
    stand_in = stand_in_for(cloud, request)
    stand_in.script(
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "6*7"}, id="toolu_calc_01")]),
        Reply(text="6 × 7 = 42."),
    )
    run = ok(kaiwa("--input", "What is 6 times 7? Use the calculator.", "--model", cloud.alias))
    assert run.out == "6 × 7 = 42.\n"  # nothing of the tool on stdout
    assert "calculate(expression='6*7')" in run.err
    assert "↳ 42" in run.err  # kaiwa ran the tool and showed its result line
    assert cloud.attempts(stand_in) == 2 and cloud.streamed(stand_in)
    [result] = cloud.tool_results(stand_in)
    if cloud is BEDROCK:
        assert result["toolUseId"] == "toolu_calc_01"
    elif cloud is FOUNDRY:
        assert result["tool_use_id"] == "toolu_calc_01"
    else:
        assert result["name"] == "calculate"
    assert "42" in json.dumps(result, ensure_ascii=False)
    assert stand_in.rejections == []


# -- 3. a three-turn conversation, resumed ------------------------------------------------------------------
@pytest.mark.parametrize("cloud", CLOUDS)
def test_three_turns_resumed_send_the_whole_history(cloud: Cloud, kaiwa: Kaiwa, request: pytest.FixtureRequest) -> None:
    stand_in = stand_in_for(cloud, request)
    stand_in.script(Reply(text="Bonjour."), Reply(text="Ça va bien."), Reply(text="Au revoir."))
    first = ok(kaiwa("--input", "Say hello in French.", "--model", cloud.alias))
    sid = first.session_id
    assert sid
    second = ok(kaiwa("--input", "How are you?", "--session-id", sid, "--model", cloud.alias))
    third = ok(kaiwa("--input", "Now say goodbye.", "--session-id", sid, "--model", cloud.alias))
    assert (second.session_id, third.session_id) == (sid, sid)
    assert third.out == "Au revoir.\n"
    a = cloud.assistant
    assert cloud.history(stand_in) == [
        ("user", "Say hello in French."),
        (a, "Bonjour."),
        ("user", "How are you?"),
        (a, "Ça va bien."),
        ("user", "Now say goodbye."),
    ]
    assert cloud.attempts(stand_in) == 3 and cloud.streamed(stand_in)
    assert stand_in.rejections == []


# -- 4. the cloud's 429 and 500 ------------------------------------------------------------------------------
# Vertex's stream errors reach kaiwa as HTTP 200 + `response.failed`; kaiwa words them like the others.
ERRORS = [
    pytest.param(cloud, status, needle, id=f"{cloud.alias}-{status}")
    for cloud in (BEDROCK, FOUNDRY, VERTEX)
    for status, needle in ((429, "rate-limited"), (500, "failed upstream"))
]


@pytest.mark.parametrize(("cloud", "status", "needle"), ERRORS)
def test_cloud_errors_are_one_line_and_leave_the_session_unchanged(
    cloud: Cloud, status: int, needle: str, kaiwa: Kaiwa, request: pytest.FixtureRequest
) -> None:
    stand_in = stand_in_for(cloud, request)
    stand_in.script(Reply(text="first answer"))
    sid = ok(kaiwa("--input", "one", "--model", cloud.alias)).session_id
    assert sid
    before = stored_items(kaiwa.db, sid)
    stand_in.reset()
    # More than the proxy's router can use (num_retries: 1): every attempt of this turn fails.
    stand_in.script(*[Reply(status=status, error_message="stand-in says no")] * 6)
    run = kaiwa("--input", "two", "--session-id", sid, "--model", cloud.alias, KAIWA_MAX_RETRIES="0")
    assert run.code == 1, run.err
    assert "Traceback" not in run.err and run.out == ""
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.err
    assert "two" in run.err  # the user's text is shown back, not lost
    assert 1 <= cloud.attempts(stand_in) <= 2, f"{cloud.attempts(stand_in)} attempts: retries stack"
    assert stored_items(kaiwa.db, sid) == before
    for secret in (ACCESS_KEY, SECRET_KEY, FOUNDRY_KEY, *getattr(stand_in, "issued_tokens", [])):
        assert secret not in run.err  # the upstream's error is shown, never a credential
    assert needle in errors[0] and cloud.alias in errors[0], errors[0]


# -- 5. signed reasoning replayed on the reasoning siblings ---------------------------------------------------
def _bedrock_signatures(s: BedrockStandIn) -> list[str]:
    return [
        b["reasoningContent"]["reasoningText"]["signature"]
        for m in s.calls[-1].messages
        for b in m["content"]
        if "reasoningContent" in b and "reasoningText" in b["reasoningContent"]
    ]


def _anthropic_signatures(s: AnthropicStandIn) -> list[str]:
    return [
        b["signature"]
        for m in _anthropic_messages(s)
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "thinking"
    ]


def _bedrock_thinking_on(s: BedrockStandIn) -> bool:
    return all((c.additional_fields or {}).get("thinking", {}).get("type") == "enabled" for c in s.calls)


def _anthropic_thinking_on(s: AnthropicStandIn) -> bool:
    return all((r.body.get("thinking") or {}).get("type") == "enabled" for r in s.model_requests())


REASONING = [
    pytest.param(
        replace(BEDROCK, alias="bedrock-claude-sonnet-4-5"),
        _bedrock_signatures,
        _bedrock_thinking_on,
        id="bedrock-claude-sonnet-4-5",
    ),
    pytest.param(FOUNDRY, _anthropic_signatures, _anthropic_thinking_on, id="azure-foundry-claude"),
]


@pytest.mark.parametrize(("cloud", "signatures", "thinking_on"), REASONING)
def test_signed_thinking_is_replayed_on_resume(
    cloud: Cloud,
    signatures: Callable[[Any], list[str]],
    thinking_on: Callable[[Any], bool],
    kaiwa: Kaiwa,
    request: pytest.FixtureRequest,
) -> None:
    stand_in = stand_in_for(cloud, request)
    signature = f"c2lnbmVkLWJ5LXRoZS1zdGFuZC1pbi0{cloud.fixture}"  # what the stand-in issues and later checks
    stand_in.script(
        Reply(
            text="",
            thinking="The user wants 6*7; the calculator is exact.",
            signature=signature,
            tool_calls=[ToolCall("calculate", {"expression": "6*7"}, id="toolu_think_01")],
        ),
        Reply(text="It is 42."),
        Reply(text="You asked about 6 times 7."),
    )
    args = ("--model", cloud.alias, "--reasoning", "low")
    first = ok(kaiwa("--input", "What is 6 times 7?", *args))
    assert first.out == "It is 42.\n" and "↳ 42" in first.err
    assert "The user wants 6*7" in first.err  # the thinking is shown on stderr, never on stdout
    sid = first.session_id
    assert sid
    second = ok(kaiwa("--input", "What did I ask?", "--session-id", sid, *args))
    assert second.out == "You asked about 6 times 7.\n"
    assert stand_in.rejections == []  # every replayed thinking block carried a signature the cloud issued
    assert cloud.attempts(stand_in) == 3 and thinking_on(stand_in), "--reasoning low did not enable thinking"
    assert signature in signatures(stand_in), "the signed thinking block was not replayed"
    assert cloud.history(stand_in)[0] == ("user", "What is 6 times 7?")
    assert cloud.history(stand_in)[-1] == ("user", "What did I ask?")
