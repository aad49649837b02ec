"""The OpenAI-compatible and Anthropic (Azure AI Foundry) stand-ins: their wire format and strict rules,
directly over HTTP and through a real LiteLLM proxy."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.proxy import Proxy, write_config
from tests.standins.anthropic import MESSAGES_PATH, AnthropicStandIn
from tests.standins.openai_compat import TOOL_WITHOUT_CALL, OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

# -- plumbing --------------------------------------------------------------------------------------


def post(port: int, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        try:
            return resp.status, resp.read()
        except http.client.IncompleteRead as cut:  # a chunked stream cut short: what arrived
            return resp.status, cut.partial
    finally:
        conn.close()


def sse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of each SSE event, parsed strictly: every event ends with a blank line."""
    text = raw.decode()
    assert text.endswith("\n\n"), "the last event is not terminated"
    out: list[tuple[str | None, str]] = []
    for frame in text[:-2].split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in frame.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        out.append((name, "\n".join(data)))
    return out


@pytest.fixture
def oa() -> Iterator[OpenAIChatStandIn]:
    s = OpenAIChatStandIn().start()
    yield s
    s.stop()


@pytest.fixture
def an() -> Iterator[AnthropicStandIn]:
    s = AnthropicStandIn().start()
    yield s
    s.stop()


KEY = {"api-key": "foundry-test-key"}
USER = {"role": "user", "content": "hi"}


# -- OpenAI-compatible Chat Completions --------------------------------------------------------------


def test_openai_stream_text_reasoning_and_usage(oa: OpenAIChatStandIn) -> None:
    oa.script(
        Reply(
            text="Hello there",
            thinking="pondering",
            input_tokens=5,
            output_tokens=9,
            reasoning_tokens=4,
            cached_tokens=2,
        )
    )
    status, raw = post(
        oa.port,
        "/v1/chat/completions",
        {"model": "fake-model", "messages": [USER], "stream": True, "stream_options": {"include_usage": True}},
    )
    assert status == 200
    events = sse(raw)
    assert all(name is None for name, _ in events)
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "pondering"
    assert "".join(d.get("content") or "" for d in deltas) == "Hello there"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["prompt_tokens"] == 5 and usage["completion_tokens"] == 9
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 4
    assert usage["prompt_tokens_details"]["cached_tokens"] == 2
    assert all(c["usage"] is None for c in chunks[:-1])


def test_openai_stream_tool_call_arguments_in_two_pieces(oa: OpenAIChatStandIn) -> None:
    oa.script(Reply(text="", tool_calls=[ToolCall("get_time", {"zone": "Asia/Tokyo"}, id="call_abc")]))
    status, raw = post(oa.port, "/v1/chat/completions", {"model": "m", "messages": [USER], "stream": True})
    assert status == 200
    chunks = [json.loads(d) for _, d in sse(raw)[:-1]]
    assert all("usage" not in c for c in chunks)  # no include_usage, no usage field
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    assert calls[0]["id"] == "call_abc" and calls[0]["function"]["name"] == "get_time"
    pieces = [tc["function"]["arguments"] for tc in calls[1:]]
    assert len(pieces) == 2 and all(pieces)
    assert json.loads("".join(pieces)) == {"zone": "Asia/Tokyo"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_non_stream_and_models(oa: OpenAIChatStandIn) -> None:
    oa.script(Reply(text="plain", tool_calls=[ToolCall("f", {"a": 1})]))
    status, raw = post(oa.port, "/v1/chat/completions", {"model": "m", "messages": [USER]})
    assert status == 200
    body = json.loads(raw)
    msg = body["choices"][0]["message"]
    assert body["object"] == "chat.completion" and msg["content"] == "plain"
    assert json.loads(msg["tool_calls"][0]["function"]["arguments"]) == {"a": 1}
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    conn = http.client.HTTPConnection("127.0.0.1", oa.port, timeout=5)
    conn.request("GET", "/v1/models")
    models = json.loads(conn.getresponse().read())
    conn.close()
    assert [m["id"] for m in models["data"]] == ["fake-model"]


def test_openai_error_status_and_delay(oa: OpenAIChatStandIn) -> None:
    oa.script(Reply(status=429, error_message="slow down", delay=0.3))
    t0 = time.monotonic()
    status, raw = post(oa.port, "/v1/chat/completions", {"model": "m", "messages": [USER]})
    assert time.monotonic() - t0 >= 0.3
    assert status == 429
    err = json.loads(raw)["error"]
    assert err["message"] == "slow down" and err["code"] == "rate_limit_exceeded" and "type" in err


def test_openai_cut_stream_has_no_done(oa: OpenAIChatStandIn) -> None:
    oa.script(Reply(text="abcdef", chunks=6, cut_after=3))
    status, raw = post(oa.port, "/v1/chat/completions", {"model": "m", "messages": [USER], "stream": True})
    assert status == 200
    events = sse(raw)
    assert len(events) == 3 and "[DONE]" not in raw.decode()


def test_openai_strict_tool_messages(oa: OpenAIChatStandIn) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    stray = [USER, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]
    status, raw = post(oa.port, "/v1/chat/completions", {"model": "m", "messages": stray})
    assert status == 400 and json.loads(raw)["error"]["message"] == TOOL_WITHOUT_CALL
    wrong_id = [
        USER,
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_9", "content": "x"},
    ]
    assert post(oa.port, "/v1/chat/completions", {"model": "m", "messages": wrong_id})[0] == 400
    unanswered = [USER, {"role": "assistant", "tool_calls": [call]}, {"role": "user", "content": "?"}]
    status, raw = post(oa.port, "/v1/chat/completions", {"model": "m", "messages": unanswered})
    assert status == 400 and "call_1" in json.loads(raw)["error"]["message"]
    assert oa.rejections == ["tool-answers-preceding-tool-call"] * 2 + ["tool-calls-answered"]
    good = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "x"},
    ]
    assert post(oa.port, "/v1/chat/completions", {"model": "m", "messages": good})[0] == 200
    assert len(oa.rejections) == 3


def test_openai_api_key_when_required() -> None:
    s = OpenAIChatStandIn(api_key="sk-upstream")
    s.start()
    try:
        assert post(s.port, "/v1/chat/completions", {"model": "m", "messages": [USER]})[0] == 401
        ok = post(
            s.port, "/v1/chat/completions", {"model": "m", "messages": [USER]}, {"Authorization": "Bearer sk-upstream"}
        )
        assert ok[0] == 200
        assert s.rejections == ["api-key"]
    finally:
        s.stop()


# -- Anthropic Messages (Azure AI Foundry) -----------------------------------------------------------


def test_anthropic_requires_key(an: AnthropicStandIn) -> None:
    status, raw = post(an.port, MESSAGES_PATH, {"model": "c", "max_tokens": 10, "messages": [USER]})
    assert status == 401
    body = json.loads(raw)
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert an.rejections == ["api-key-required"]
    assert (
        post(an.port, MESSAGES_PATH, {"model": "c", "max_tokens": 10, "messages": [USER]}, {"x-api-key": "k"})[0] == 200
    )


def test_anthropic_stream_framing(an: AnthropicStandIn) -> None:
    an.script(
        Reply(
            text="Sure.",
            thinking="Let me think",
            tool_calls=[ToolCall("get_time", {"zone": "UTC"}, id="toolu_1")],
            input_tokens=20,
            cached_tokens=3,
            output_tokens=12,
        )
    )
    status, raw = post(
        an.port, MESSAGES_PATH, {"model": "claude-x", "max_tokens": 99, "stream": True, "messages": [USER]}, KEY
    )
    assert status == 200
    events = sse(raw)
    data = [json.loads(d) for _, d in events]
    assert all(name == d["type"] for (name, _), d in zip(events, data, strict=True))
    kinds = [d["type"] for d in data]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    usage = data[0]["message"]["usage"]
    assert usage["input_tokens"] == 20 and usage["cache_read_input_tokens"] == 3
    starts = [d["content_block"]["type"] for d in data if d["type"] == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use"]
    deltas: dict[int, list[dict[str, Any]]] = {}
    for d in data:
        if d["type"] == "content_block_delta":
            deltas.setdefault(d["index"], []).append(d["delta"])
    assert [x["type"] for x in deltas[0]][-1] == "signature_delta"
    assert {x["type"] for x in deltas[0][:-1]} == {"thinking_delta"}
    assert "".join(x["thinking"] for x in deltas[0][:-1]) == "Let me think"
    assert deltas[0][-1]["signature"] in an.issued_signatures
    assert "".join(x["text"] for x in deltas[1]) == "Sure."
    assert len(deltas[2]) == 2 and json.loads("".join(x["partial_json"] for x in deltas[2])) == {"zone": "UTC"}
    assert sum(d["type"] == "content_block_stop" for d in data) == 3
    assert data[-2]["delta"]["stop_reason"] == "tool_use" and data[-2]["usage"]["output_tokens"] == 12


def test_anthropic_non_stream_and_fresh_signatures(an: AnthropicStandIn) -> None:
    an.script(
        Reply(text="a", thinking="t1"),
        Reply(text="b", thinking="t2"),
        Reply(text="c", thinking="t3", signature="fixed-sig"),
    )
    bodies = [
        json.loads(post(an.port, MESSAGES_PATH, {"model": "c", "max_tokens": 9, "messages": [USER]}, KEY)[1])
        for _ in range(3)
    ]
    sigs = [b["content"][0]["signature"] for b in bodies]
    assert sigs[0] != sigs[1] and sigs[2] == "fixed-sig"
    assert an.issued_signatures == set(sigs)
    assert bodies[0]["content"][1] == {"type": "text", "text": "a"}
    assert bodies[0]["stop_reason"] == "end_turn" and bodies[0]["type"] == "message"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "rate_limit_error"), (500, "api_error"), (529, "overloaded_error"), (400, "invalid_request_error")],
)
def test_anthropic_error_bodies(an: AnthropicStandIn, status: int, kind: str) -> None:
    an.script(Reply(status=status, error_message="nope"))
    got, raw = post(an.port, MESSAGES_PATH, {"model": "c", "max_tokens": 9, "messages": [USER]}, KEY)
    body = json.loads(raw)
    assert got == status and body["type"] == "error"
    assert body["error"] == {"type": kind, "message": "nope"}


def test_anthropic_cut_stream(an: AnthropicStandIn) -> None:
    an.script(Reply(text="abcdef", chunks=6, cut_after=4))
    status, raw = post(an.port, MESSAGES_PATH, {"model": "c", "max_tokens": 9, "stream": True, "messages": [USER]}, KEY)
    assert status == 200
    kinds = [name for name, _ in sse(raw)]
    assert len(kinds) == 4 and "message_stop" not in kinds


def _rejected(an: AnthropicStandIn, messages: list[dict[str, Any]], **extra: Any) -> str:
    status, raw = post(an.port, MESSAGES_PATH, {"model": "c", "max_tokens": 9, "messages": messages, **extra}, KEY)
    assert status == 400, raw
    body = json.loads(raw)
    assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


def test_anthropic_strict_roles_and_tools(an: AnthropicStandIn) -> None:
    use = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]}
    wrong = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "42"}]}
    assert 'first message must use the "user" role' in _rejected(an, [{"role": "assistant", "content": "x"}, USER])
    assert "roles must alternate" in _rejected(an, [USER, USER])
    assert "unexpected `tool_use_id` found in `tool_result` blocks: toolu_9" in _rejected(an, [USER, use, wrong])
    assert "`tool_use` ids were found without `tool_result` blocks" in _rejected(an, [USER, use, USER])
    assert an.rejections == [
        "first-message-user",
        "roles-alternate",
        "tool-result-answers-tool-use",
        "tool-use-answered",
    ]
    assert post(an.port, MESSAGES_PATH, {"model": "c", "max_tokens": 9, "messages": [USER, use, result]}, KEY)[0] == 200


def test_anthropic_thinking_signatures(an: AnthropicStandIn) -> None:
    an.script(Reply(text="x", thinking="deep"))
    first = json.loads(post(an.port, MESSAGES_PATH, {"model": "c", "max_tokens": 9, "messages": [USER]}, KEY)[1])
    issued = first["content"]
    forged = [{**issued[0], "signature": "forged"}, issued[1]]
    unsigned = [{"type": "thinking", "thinking": "deep"}, issued[1]]
    again = {"role": "user", "content": "and?"}
    assert "Invalid `signature` in `thinking` block" in _rejected(
        an, [USER, {"role": "assistant", "content": forged}, again]
    )
    assert "signature: Field required" in _rejected(an, [USER, {"role": "assistant", "content": unsigned}, again])
    ok = post(
        an.port,
        MESSAGES_PATH,
        {"model": "c", "max_tokens": 9, "messages": [USER, {"role": "assistant", "content": issued}, again]},
        KEY,
    )
    assert ok[0] == 200
    # With thinking on, the assistant turn of an open tool loop must start with its thinking block.
    use = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "1"}]}
    thinking = {"type": "enabled", "budget_tokens": 1024}
    msg = _rejected(an, [USER, {"role": "assistant", "content": [use]}, result], thinking=thinking)
    assert "Expected `thinking` or `redacted_thinking`, but found `tool_use`" in msg
    with_thinking = [USER, {"role": "assistant", "content": [issued[0], use]}, result]
    assert (
        post(
            an.port,
            MESSAGES_PATH,
            {"model": "c", "max_tokens": 9, "messages": with_thinking, "thinking": thinking},
            KEY,
        )[0]
        == 200
    )
    assert an.rejections == ["thinking-signature", "thinking-signature", "thinking-first-in-tool-loop"]


# -- through a real LiteLLM proxy ---------------------------------------------------------------------

FOUNDRY_KEY = "foundry-test-key-0123"
UPSTREAM_KEY = "sk-upstream-fake-0123"


@pytest.fixture(scope="module")
def openai_up() -> Iterator[OpenAIChatStandIn]:
    # The stand-ins insist on the configured keys, so these tests also show LiteLLM passes them upstream.
    s = OpenAIChatStandIn(api_key=UPSTREAM_KEY).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def claude_up() -> Iterator[AnthropicStandIn]:
    s = AnthropicStandIn(api_key=FOUNDRY_KEY).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def proxy(
    tmp_path_factory: pytest.TempPathFactory, openai_up: OpenAIChatStandIn, claude_up: AnthropicStandIn
) -> Iterator[Proxy]:
    work = tmp_path_factory.mktemp("litellm")
    config = {
        "model_list": [
            {
                "model_name": "fake",
                "litellm_params": {
                    "model": "openai/fake-model",
                    "api_base": f"{openai_up.url}/v1",
                    "api_key": UPSTREAM_KEY,
                    "use_chat_completions_api": True,
                },
            },
            {
                "model_name": "claude",
                "litellm_params": {
                    "model": "azure_ai/claude-sonnet-4-5",
                    "api_base": claude_up.url,
                    "api_key": FOUNDRY_KEY,
                },
            },
        ],
        # No retries: one client request is one upstream request, so scripted replies line up.
        "litellm_settings": {"num_retries": 0},
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    with Proxy.start(write_config(work / "config.yaml", config), {}, work / "proxy.log") as running:
        yield running


def client(proxy: Proxy) -> Any:
    import openai  # costly import, only for the proxy tests

    return openai.OpenAI(base_url=proxy.base_url, api_key=proxy.master_key, max_retries=0, timeout=60)


def _stream(proxy: Proxy, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """Stream one /v1/responses call: (the text deltas joined, the completed response as a dict)."""
    text = ""
    completed: dict[str, Any] | None = None
    with client(proxy).responses.create(stream=True, **kwargs) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.completed":
                completed = event.response.model_dump(exclude_none=True)
    assert completed is not None, "no response.completed event"
    return text, completed


def _items(response: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [item for item in response["output"] if item["type"] == kind]


TIME_TOOL = {
    "type": "function",
    "name": "get_time",
    "description": "The current time in a zone.",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
}


@pytest.mark.parametrize("alias", ["fake", "claude"])
def test_proxy_text_and_tool_round_trip(
    proxy: Proxy, openai_up: OpenAIChatStandIn, claude_up: AnthropicStandIn, alias: str
) -> None:
    up: OpenAIChatStandIn | AnthropicStandIn = openai_up if alias == "fake" else claude_up
    up.reset()
    up.script(Reply(text="Hello from the stand-in"))
    text, _ = _stream(proxy, model=alias, input="hi")
    assert text == "Hello from the stand-in"

    up.script(
        Reply(text="", tool_calls=[ToolCall("get_time", {"zone": "UTC"}, id="call_time1")]), Reply(text="It is noon.")
    )
    question = {"role": "user", "content": "What time is it?"}
    _, first = _stream(proxy, model=alias, input=[question], tools=[TIME_TOOL])
    calls = _items(first, "function_call")
    assert [(c["name"], json.loads(c["arguments"]), c["call_id"]) for c in calls] == [
        ("get_time", {"zone": "UTC"}, "call_time1")
    ]
    replay = [question, *first["output"], {"type": "function_call_output", "call_id": "call_time1", "output": "12:00"}]
    text, _ = _stream(proxy, model=alias, input=replay, tools=[TIME_TOOL])
    assert text == "It is noon."
    assert up.rejections == []
    last = up.model_requests()[-1].body
    if alias == "fake":
        tool_msgs = [m for m in last["messages"] if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in tool_msgs] == ["call_time1"]
    else:
        results = [
            b
            for m in last["messages"]
            if isinstance(m["content"], list)
            for b in m["content"]
            if b["type"] == "tool_result"
        ]
        assert [b["tool_use_id"] for b in results] == ["call_time1"]


def test_proxy_claude_reasoning_replay_passes_signature_check(proxy: Proxy, claude_up: AnthropicStandIn) -> None:
    up = claude_up
    up.reset()
    up.script(
        Reply(
            text="",
            thinking="The user wants the time.",
            tool_calls=[ToolCall("get_time", {"zone": "UTC"}, id="toolu_r1")],
        ),
        Reply(text="It is noon."),
    )
    question = {"role": "user", "content": "What time is it?"}
    opts: dict[str, Any] = {"model": "claude", "tools": [TIME_TOOL], "reasoning": {"effort": "low"}}
    _, first = _stream(proxy, input=[question], include=["reasoning.encrypted_content"], **opts)
    assert up.model_requests()[-1].body["thinking"]["type"] == "enabled"
    (reasoning,) = _items(first, "reasoning")
    # LiteLLM's encrypted_content is the JSON list of Anthropic's signed thinking blocks, in clear.
    blocks = json.loads(reasoning["encrypted_content"])
    assert [b["type"] for b in blocks] == ["thinking"]
    assert blocks[0]["thinking"] == "The user wants the time."
    assert blocks[0]["signature"] in up.issued_signatures

    output = {"type": "function_call_output", "call_id": "toolu_r1", "output": "12:00"}
    text, _ = _stream(proxy, input=[question, *first["output"], output], **opts)
    assert text == "It is noon."
    assert up.rejections == []
    assistant = [m for m in up.model_requests()[-1].body["messages"] if m["role"] == "assistant"]
    assert assistant[0]["content"][0] == blocks[0]  # the signed block went back first, unchanged

    # The check is live through the proxy: a tampered signature is refused with Anthropic's 400.
    import openai

    forged = {**reasoning, "encrypted_content": json.dumps([{**blocks[0], "signature": "forged"}])}
    replay = [question, *[forged if i["type"] == "reasoning" else i for i in first["output"]], output]
    with pytest.raises(openai.BadRequestError, match="Invalid `signature` in `thinking` block"):
        _stream(proxy, input=replay, **opts)
    assert up.rejections == ["thinking-signature"]


def test_proxy_claude_tool_loop_without_encrypted_content_is_refused(proxy: Proxy, claude_up: AnthropicStandIn) -> None:
    """A client that keeps only the reasoning summary loses the signed block: LiteLLM then sends the
    assistant turn without thinking, which Claude refuses in an open tool loop while thinking is on."""
    import openai

    up = claude_up
    up.reset()
    up.script(Reply(text="", thinking="hmm", tool_calls=[ToolCall("get_time", {"zone": "UTC"}, id="toolu_s1")]))
    question = {"role": "user", "content": "What time is it?"}
    opts: dict[str, Any] = {"model": "claude", "tools": [TIME_TOOL], "reasoning": {"effort": "low"}}
    _, first = _stream(proxy, input=[question], **opts)  # no `include`: LiteLLM fills encrypted_content anyway
    assert all("encrypted_content" in i for i in _items(first, "reasoning"))
    stripped = [{k: v for k, v in i.items() if k != "encrypted_content"} for i in first["output"]]
    output = {"type": "function_call_output", "call_id": "toolu_s1", "output": "12:00"}
    with pytest.raises(openai.BadRequestError, match="must start with a thinking block"):
        _stream(proxy, input=[question, *stripped, output], **opts)
    assert up.rejections == ["thinking-first-in-tool-loop"]
