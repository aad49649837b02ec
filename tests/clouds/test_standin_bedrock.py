"""The Bedrock stand-in: its event-stream encoder against botocore's decoder, its SigV4 and conversation
rules directly, then the same stand-in behind a real LiteLLM proxy driven with the openai client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

from tests.harness.proxy import GATEWAY, Proxy, write_config
from tests.standins.bedrock import (
    ACCESS_KEY,
    EVENTSTREAM,
    MSG_ALTERNATE,
    SECRET_KEY,
    BedrockStandIn,
    encode_event,
    encode_event_message,
)
from tests.standins.script import Reply, ToolCall

SONNET_35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


# -- (a) the wire format and the rules, directly ----------------------------------------------------
def decode_all(data: bytes, piece: int = 7) -> list[Any]:
    """Feed bytes to botocore's decoder in small pieces, as a socket would deliver them."""
    buffer = EventStreamBuffer()
    out = []
    for i in range(0, len(data), piece):
        buffer.add_data(data[i : i + piece])
        out.extend(buffer)
    return out


def test_encoder_matches_botocore_decoder() -> None:
    frames = encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo"}})
    frames += encode_event_message({":message-type": "event", ":event-type": "messageStop"}, b"")
    messages = decode_all(frames)
    assert len(messages) == 2
    first = messages[0].to_response_dict()
    assert first["status_code"] == 200
    assert first["headers"] == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(first["body"]) == {"contentBlockIndex": 0, "delta": {"text": "héllo"}}
    assert messages[1].headers[":event-type"] == "messageStop" and messages[1].payload == b""


def test_encoder_crc_is_checked_by_botocore() -> None:
    from botocore.eventstream import ChecksumMismatch

    frame = bytearray(encode_event("messageStart", {"role": "assistant"}))
    frame[-6] ^= 0xFF  # corrupt one payload byte: the message CRC no longer matches
    with pytest.raises(ChecksumMismatch):
        decode_all(bytes(frame))


def test_stream_events_for_thinking_text_and_tool() -> None:
    bed = BedrockStandIn()
    reply = Reply(text="Hi there", thinking="let me think", tool_calls=[ToolCall("get_time", {"tz": "UTC"}, "tu_1")])
    events = [(m.headers[":event-type"], json.loads(m.payload)) for m in decode_all(b"".join(bed.stream_events(reply)))]
    names = [name for name, _ in events]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"]
    reasoning = [p["delta"]["reasoningContent"] for n, p in events if "reasoningContent" in p.get("delta", {})]
    assert "".join(r.get("text", "") for r in reasoning) == "let me think"
    assert reasoning[-1]["signature"] in bed.issued_signatures
    assert "".join(p["delta"]["text"] for n, p in events if "text" in p.get("delta", {})) == "Hi there"
    start = next(p for n, p in events if n == "contentBlockStart")
    assert start["start"]["toolUse"] == {"toolUseId": "tu_1", "name": "get_time"}
    tool_input = "".join(p["delta"]["toolUse"]["input"] for n, p in events if "toolUse" in p.get("delta", {}))
    assert json.loads(tool_input) == {"tz": "UTC"}
    assert events[-2][1] == {"stopReason": "tool_use"}
    assert events[-1][1]["usage"]["totalTokens"] == 18


def signed_request(
    url: str, body: dict[str, Any], secret: str = SECRET_KEY, key: str = ACCESS_KEY
) -> urllib.request.Request:
    """Sign the way LiteLLM does (botocore SigV4Auth, service bedrock) and build the HTTP request."""
    data = json.dumps(body)
    aws = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), "bedrock", "us-east-1").add_auth(aws)
    return urllib.request.Request(url, data=data.encode(), headers=dict(aws.headers.items()), method="POST")


def post(req: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


@pytest.fixture
def bedrock() -> Iterator[BedrockStandIn]:
    stand_in = BedrockStandIn()
    stand_in.start()
    yield stand_in
    stand_in.stop()


def converse_url(bed: BedrockStandIn, model: str = SONNET_35, op: str = "converse") -> str:
    return f"{bed.url}/model/{quote(model, safe='')}/{op}"


USER_HI = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}


def test_signed_converse_answers_and_decodes_model_id(bedrock: BedrockStandIn) -> None:
    bedrock.script(Reply(text="hello"))
    status, headers, raw = post(signed_request(converse_url(bedrock), {**USER_HI, "system": [{"text": "be brief"}]}))
    assert status == 200, raw
    body = json.loads(raw)
    assert body["output"]["message"] == {"role": "assistant", "content": [{"text": "hello"}]}
    assert body["stopReason"] == "end_turn"
    assert bedrock.calls[0].model_id == SONNET_35 and bedrock.calls[0].region == "us-east-1"
    assert bedrock.calls[0].system == [{"text": "be brief"}]
    assert "%3A" in bedrock.requests[0].path  # the id arrived percent-encoded, as LiteLLM sends it


def test_converse_stream_is_an_event_stream(bedrock: BedrockStandIn) -> None:
    bedrock.script(Reply(text="streamed"))
    status, headers, raw = post(signed_request(converse_url(bedrock, op="converse-stream"), USER_HI))
    assert status == 200 and headers["Content-Type"] == EVENTSTREAM
    texts = [json.loads(m.payload)["delta"]["text"] for m in decode_all(raw) if b'"text"' in m.payload]
    assert "".join(texts) == "streamed"


@pytest.mark.parametrize(
    ("tamper", "rule", "error_type"),
    [
        ("secret", "sigv4-signature-mismatch", "InvalidSignatureException"),
        ("body", "sigv4-signature-mismatch", "InvalidSignatureException"),
        ("key", "sigv4-unknown-access-key", "UnrecognizedClientException"),
        ("unsigned", "sigv4-missing", "MissingAuthenticationTokenException"),
    ],
)
def test_sigv4_is_enforced(bedrock: BedrockStandIn, tamper: str, rule: str, error_type: str) -> None:
    req = signed_request(
        converse_url(bedrock),
        USER_HI,
        secret="wrong-secret" if tamper == "secret" else SECRET_KEY,
        key="AKIAOTHER00000000000" if tamper == "key" else ACCESS_KEY,
    )
    if tamper == "body":
        req.data = json.dumps({"messages": [{"role": "user", "content": [{"text": "HI"}]}]}).encode()
    if tamper == "unsigned":
        req.remove_header("Authorization")
    status, headers, raw = post(req)
    assert status == 403
    assert headers["x-amzn-ErrorType"].split(":")[0] == error_type
    assert bedrock.rejections == [rule]
    if tamper in ("secret", "body"):
        assert json.loads(raw)["message"].startswith("The request signature we calculated does not match")


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


TOOL_USE = {"toolUse": {"toolUseId": "tu_1", "name": "get_time", "input": {}}}


def tool_result(tool_id: str) -> dict[str, Any]:
    return {"toolResult": {"toolUseId": tool_id, "content": [{"text": "noon"}]}}


@pytest.mark.parametrize(
    ("messages", "rule", "wording"),
    [
        ([assistant({"text": "hi"}), user({"text": "q"})], "start-with-user", "must start with a user message"),
        ([user({"text": "a"}), user({"text": "b"})], "alternate-roles", MSG_ALTERNATE),
        (
            [user({"text": "q"}), assistant({"text": "no tools"}), user(tool_result("tu_1"))],
            "tool-result-answers-tool-use",
            "The number of toolResult blocks at messages.2.content exceeds the number of toolUse blocks",
        ),
        (
            [user({"text": "q"}), assistant(TOOL_USE), user(tool_result("tu_other"))],
            "tool-result-answers-tool-use",
            "unexpected `tool_use_id` found in `tool_result` blocks: tu_other",
        ),
        (
            [user({"text": "q"}), assistant(TOOL_USE), user({"text": "never mind"})],
            "tool-use-answered",
            "`tool_use` ids were found without `tool_result` blocks immediately after: tu_1",
        ),
        (
            [
                user({"text": "q"}),
                assistant({"reasoningContent": {"reasoningText": {"text": "hm"}}}),
                user({"text": "x"}),
            ],
            "reasoning-signature-required",
            "messages.1.content.0.thinking.signature: Field required",
        ),
        (
            [
                user({"text": "q"}),
                assistant({"reasoningContent": {"reasoningText": {"text": "hm", "signature": "forged"}}}),
                user({"text": "x"}),
            ],
            "reasoning-signature-issued",
            "messages.1.content.0: Invalid `signature` in `thinking` block",
        ),
    ],
)
def test_conversation_rules(bedrock: BedrockStandIn, messages: list[Any], rule: str, wording: str) -> None:
    status, headers, raw = post(signed_request(converse_url(bedrock), {"messages": messages}))
    assert status == 400
    assert headers["x-amzn-ErrorType"].startswith("ValidationException")
    assert wording in json.loads(raw)["message"]
    assert bedrock.rejections == [rule]


def test_valid_tool_round_trip_and_issued_signature_pass(bedrock: BedrockStandIn) -> None:
    bedrock.script(Reply(text="", thinking="weighing it", tool_calls=[ToolCall("get_time", {}, "tu_1")]))
    status, _, raw = post(signed_request(converse_url(bedrock), USER_HI))
    assert status == 200
    content = json.loads(raw)["output"]["message"]["content"]
    assert [next(iter(b)) for b in content] == ["reasoningContent", "toolUse"]
    history = [user({"text": "hi"}), assistant(*content), user(tool_result("tu_1"))]
    status, _, raw = post(signed_request(converse_url(bedrock), {"messages": history}))
    assert status == 200, raw
    assert bedrock.rejections == []


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(429, "ThrottlingException"), (500, "InternalServerException"), (400, "ValidationException")],
)
def test_scripted_errors_use_bedrock_shape(bedrock: BedrockStandIn, status: int, error_type: str) -> None:
    bedrock.script(Reply(status=status, error_message="scripted failure"))
    got, headers, raw = post(signed_request(converse_url(bedrock), USER_HI))
    assert got == status
    assert headers["x-amzn-ErrorType"].split(":")[0] == error_type
    assert json.loads(raw) == {"message": "scripted failure"}


def test_cut_stream_ends_mid_frame(bedrock: BedrockStandIn) -> None:
    bedrock.script(Reply(text="abcdef", chunks=3, cut_after=2))
    status, _, raw = post(signed_request(converse_url(bedrock, op="converse-stream"), USER_HI))
    assert status == 200
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    assert len(list(buffer)) == 2  # messageStart and one text delta, then half a frame
    assert len(raw) > sum(m.prelude.total_length for m in decode_all(raw))


# -- (b) behind a real LiteLLM proxy ------------------------------------------------------------------
ALIASES = {
    "bedrock-claude-3-5-sonnet": f"bedrock/converse/{SONNET_35}",
    "bedrock-claude-sonnet-4-5": f"bedrock/converse/{SONNET_45}",
    "bedrock-errors": f"bedrock/converse/{SONNET_35}",  # its own alias: failures there cool no other alias down
    "bedrock-plain-3-5": f"bedrock/{SONNET_35}",  # no route prefix: LiteLLM's list of Converse models decides
}


def proxy_config(endpoint: str, num_retries: int | None) -> dict[str, Any]:
    params = {
        "aws_bedrock_runtime_endpoint": endpoint,
        "aws_region_name": "us-east-1",
        # Named through the environment, so the keys never sit in the config file.
        "aws_access_key_id": "os.environ/STANDIN_AWS_ACCESS_KEY_ID",
        "aws_secret_access_key": "os.environ/STANDIN_AWS_SECRET_ACCESS_KEY",
    }
    config: dict[str, Any] = {
        "model_list": [{"model_name": a, "litellm_params": {"model": m, **params}} for a, m in ALIASES.items()],
        "litellm_settings": {"drop_params": True},
    }
    if num_retries is not None:
        config["router_settings"] = {"num_retries": num_retries}
    return config


def needs_gateway() -> None:
    if not (GATEWAY / ".venv" / "bin" / "litellm").exists():
        pytest.skip("the gateway env (LiteLLM proxy) is not installed")


@pytest.fixture(scope="module")
def upstream() -> Iterator[BedrockStandIn]:
    stand_in = BedrockStandIn(region="us-east-1")
    stand_in.start()
    yield stand_in
    stand_in.stop()


def start_proxy(workdir: Path, upstream: BedrockStandIn, num_retries: int | None) -> Iterator[Proxy]:
    needs_gateway()
    config = write_config(workdir / "config.yaml", proxy_config(upstream.url, num_retries))
    env = {"STANDIN_AWS_ACCESS_KEY_ID": ACCESS_KEY, "STANDIN_AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    with Proxy.start(config, env, workdir / "proxy.log") as proxy:
        # The first Bedrock call loads botocore's service model in the proxy (5-20 s here): pay it now, once.
        stream_response(proxy, model="bedrock-claude-3-5-sonnet", input="warm up")
        upstream.reset()
        yield proxy


@pytest.fixture(scope="module")
def proxy(upstream: BedrockStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The proxy with LiteLLM's default router retries."""
    yield from start_proxy(tmp_path_factory.mktemp("proxy-default"), upstream, None)


@pytest.fixture(scope="module")
def proxy_no_retry(upstream: BedrockStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The proxy with `router_settings.num_retries: 0`."""
    yield from start_proxy(tmp_path_factory.mktemp("proxy-no-retry"), upstream, 0)


@pytest.fixture
def bedrock_up(upstream: BedrockStandIn) -> BedrockStandIn:
    upstream.reset()
    return upstream


def client(proxy: Proxy) -> Any:
    from openai import OpenAI

    # No client retries: every upstream attempt counted below is the proxy's own.
    return OpenAI(base_url=proxy.base_url, api_key=proxy.master_key, max_retries=0, timeout=60)


def stream_response(proxy: Proxy, **kwargs: Any) -> tuple[list[Any], Any]:
    """Stream one /v1/responses call: (all events, the final response)."""
    events = list(client(proxy).responses.create(stream=True, **kwargs))
    done = [e for e in events if e.type == "response.completed"]
    assert done, [e.type for e in events]
    return events, done[-1].response


def test_proxy_streams_text(proxy: Proxy, bedrock_up: BedrockStandIn) -> None:
    bedrock_up.script(Reply(text="Hello from the Bedrock stand-in", chunks=4))
    events, response = stream_response(
        proxy, model="bedrock-claude-3-5-sonnet", input="Say hello", instructions="Be brief."
    )
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) >= 2 and "".join(deltas) == "Hello from the Bedrock stand-in"
    assert response.output_text == "Hello from the Bedrock stand-in"
    (call,) = bedrock_up.calls
    assert call.stream and call.model_id == SONNET_35 and call.region == "us-east-1"
    assert call.system == [{"text": "Be brief."}]
    assert call.messages == [{"role": "user", "content": [{"text": "Say hello"}]}]
    assert bedrock_up.requests[0].path == f"/model/{quote(SONNET_35, safe='')}/converse-stream"
    assert bedrock_up.rejections == []


GET_TIME = {
    "type": "function",
    "name": "get_time",
    "description": "The current time in a time zone.",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
}


def test_proxy_tool_call_round_trip(proxy: Proxy, bedrock_up: BedrockStandIn) -> None:
    bedrock_up.script(Reply(text="", tool_calls=[ToolCall("get_time", {"tz": "UTC"}, "tooluse_abc123")]))
    _, response = stream_response(proxy, model="bedrock-claude-3-5-sonnet", input="What time is it?", tools=[GET_TIME])
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].call_id == "tooluse_abc123" and calls[0].name == "get_time"
    assert json.loads(calls[0].arguments) == {"tz": "UTC"}
    tool_config = bedrock_up.calls[0].tool_config
    assert tool_config is not None
    spec = tool_config["tools"][0]["toolSpec"]
    assert spec["name"] == "get_time" and spec["inputSchema"]["json"]["required"] == ["tz"]

    bedrock_up.script(Reply(text="It is noon in UTC."))
    replay = [
        {"role": "user", "content": "What time is it?"},
        calls[0].model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": "tooluse_abc123", "output": "12:00"},
    ]
    _, second = stream_response(proxy, model="bedrock-claude-3-5-sonnet", input=replay, tools=[GET_TIME])
    assert second.output_text == "It is noon in UTC."
    assert bedrock_up.rejections == []
    messages = bedrock_up.calls[1].messages
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][-1]["toolUse"]["toolUseId"] == "tooluse_abc123"
    assert messages[2]["content"][0]["toolResult"]["toolUseId"] == "tooluse_abc123"


def test_proxy_three_turn_history_arrives_in_bedrock_format(proxy: Proxy, bedrock_up: BedrockStandIn) -> None:
    bedrock_up.script(Reply(text="third answer"))
    history = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "second answer"},
        {"role": "user", "content": "three"},
    ]
    _, response = stream_response(proxy, model="bedrock-claude-3-5-sonnet", input=history)
    assert response.output_text == "third answer"
    assert bedrock_up.calls[0].messages == [
        {"role": "user", "content": [{"text": "one"}]},
        {"role": "assistant", "content": [{"text": "first answer"}]},
        {"role": "user", "content": [{"text": "two"}]},
        {"role": "assistant", "content": [{"text": "second answer"}]},
        {"role": "user", "content": [{"text": "three"}]},
    ]


def failed_call(proxy: Proxy, bedrock: BedrockStandIn, status: int) -> tuple[int | None, str, int]:
    """Script failures of one status, make one streamed call: (status the client saw, exception, upstream attempts)."""
    import openai

    bedrock.reset()
    bedrock.script(*[Reply(status=status, error_message=f"stand-in says {status}") for _ in range(8)])
    try:
        stream_response(proxy, model="bedrock-errors", input="hello")
    except openai.APIStatusError as err:
        return err.status_code, type(err).__name__, len(bedrock.calls)
    finally:
        bedrock.reset()
    raise AssertionError("the upstream failure did not reach the client")


@pytest.mark.parametrize(
    ("status", "client_status", "exception"), [(429, 429, "RateLimitError"), (500, 503, "InternalServerError")]
)
def test_proxy_surfaces_errors_without_retries(
    proxy_no_retry: Proxy, bedrock_up: BedrockStandIn, status: int, client_status: int, exception: str
) -> None:
    assert failed_call(proxy_no_retry, bedrock_up, status) == (client_status, exception, 1)


@pytest.mark.parametrize(
    ("status", "client_status", "exception"), [(429, 429, "RateLimitError"), (500, 503, "InternalServerError")]
)
def test_proxy_retries_errors_by_default(
    proxy: Proxy, bedrock_up: BedrockStandIn, status: int, client_status: int, exception: str
) -> None:
    assert failed_call(proxy, bedrock_up, status) == (client_status, exception, 3)


def test_proxy_plain_bedrock_prefix_also_uses_converse(proxy: Proxy, bedrock_up: BedrockStandIn) -> None:
    bedrock_up.script(Reply(text="via converse"))
    _, response = stream_response(proxy, model="bedrock-plain-3-5", input="hi")
    assert response.output_text == "via converse"
    assert bedrock_up.requests[0].path == f"/model/{quote(SONNET_35, safe='')}/converse-stream"


def test_proxy_cut_stream_fails_the_response(proxy_no_retry: Proxy, bedrock_up: BedrockStandIn) -> None:
    bedrock_up.script(Reply(text="abcdefghij", chunks=5, cut_after=3))
    events = list(client(proxy_no_retry).responses.create(model="bedrock-errors", input="hi", stream=True))
    # HTTP 200 already went out: the cut arrives as a `response.failed` event after the text so far.
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["ab", "cd"]
    assert events[-1].type == "response.failed"
    assert "undecoded bytes" in events[-1].response.error.message
    assert len(bedrock_up.calls) == 1


REASONING: dict[str, Any] = {
    "model": "bedrock-claude-sonnet-4-5",
    "reasoning": {"effort": "low"},
    "include": ["reasoning.encrypted_content"],
}


def test_proxy_reasoning_signature_round_trip(proxy: Proxy, bedrock_up: BedrockStandIn) -> None:
    bedrock_up.script(Reply(text="The answer is 4.", thinking="Two plus two makes four."))
    _, response = stream_response(proxy, input="What is 2+2?", **REASONING)
    assert response.output_text == "The answer is 4."
    # effort "low" becomes Claude's thinking budget in additionalModelRequestFields.
    assert bedrock_up.calls[0].additional_fields == {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    (reasoning,) = [item for item in response.output if item.type == "reasoning"]
    # LiteLLM's encrypted_content is no ciphertext: the thinking blocks as JSON, signature included.
    (block,) = json.loads(reasoning.encrypted_content)
    (signature,) = bedrock_up.issued_signatures
    assert block == {"type": "thinking", "thinking": "Two plus two makes four.", "signature": signature}

    bedrock_up.script(Reply(text="Six."))
    replay = [{"role": "user", "content": "What is 2+2?"}]
    replay += [item.model_dump(exclude_none=True) for item in response.output]
    replay += [{"role": "user", "content": "And 3+3?"}]
    _, second = stream_response(proxy, input=replay, **REASONING)
    assert second.output_text == "Six."
    assert bedrock_up.rejections == []
    assert bedrock_up.calls[1].messages[1] == {
        "role": "assistant",
        "content": [
            {"reasoningContent": {"reasoningText": {"text": "Two plus two makes four.", "signature": signature}}},
            {"text": "The answer is 4."},
        ],
    }

    # The same history with a forged signature is refused upstream, and the client sees a 400.
    import openai

    forged = [dict(item) for item in replay]
    forged[1]["encrypted_content"] = json.dumps([{**block, "signature": "Zm9yZ2Vk"}])
    with pytest.raises(openai.BadRequestError) as err:
        stream_response(proxy, input=forged, **REASONING)
    assert "Invalid `signature` in `thinking` block" in str(err.value.message)
    assert bedrock_up.rejections == ["reasoning-signature-issued"]


def test_proxy_reasoning_signature_arrives_without_include(proxy: Proxy, bedrock_up: BedrockStandIn) -> None:
    bedrock_up.script(Reply(text="4", thinking="sum"))
    request = {key: value for key, value in REASONING.items() if key != "include"}
    _, response = stream_response(proxy, input="2+2?", **request)
    (reasoning,) = [item for item in response.output if item.type == "reasoning"]
    # LiteLLM 1.106.2 fills encrypted_content whether or not `include` asks for it.
    assert json.loads(reasoning.encrypted_content)[0]["signature"] in bedrock_up.issued_signatures
