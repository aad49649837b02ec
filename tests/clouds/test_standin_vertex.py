"""The Vertex AI stand-in: its OAuth token step and Vertex's conversation rules directly, then the same
stand-in behind a real LiteLLM proxy (google-auth really fetches a token here) driven with the openai client."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.harness.proxy import GATEWAY, Proxy, write_config
from tests.standins.script import Reply, ToolCall
from tests.standins.vertex import (
    JWT_BEARER,
    MSG_ALTERNATE,
    MSG_RESPONSE_COUNT,
    MSG_RESPONSE_PLACEMENT,
    MSG_SIGNATURE,
    MSG_UNAUTHENTICATED,
    SKIP_SIGNATURE,
    VertexStandIn,
)

PROJECT = "kaiwa-standin"
LOCATION = "us-central1"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"


# -- helpers ----------------------------------------------------------------------------------------
def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(private_pem: str, claims: dict[str, Any]) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signing_input = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + "."
    signing_input += b64url(json.dumps(claims).encode())
    return signing_input + "." + b64url(key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))


def grant_claims(email: str, aud: str = GOOGLE_TOKEN_URL) -> dict[str, Any]:
    now = int(time.time())
    scope = "https://www.googleapis.com/auth/cloud-platform"
    return {"iss": email, "aud": aud, "scope": scope, "iat": now, "exp": now + 3600}


def ask_token(stand_in: VertexStandIn, assertion: str) -> tuple[int, dict[str, Any]]:
    form = urlencode({"grant_type": JWT_BEARER, "assertion": assertion}).encode()
    status, data = post(stand_in.token_uri, form, {"Content-Type": "application/x-www-form-urlencoded"})
    return status, json.loads(data)


def model_url(stand_in: VertexStandIn, model: str = "gemini-2.0-flash", stream: bool = False) -> str:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"{stand_in.url}/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{model}:{method}"


def generate(
    stand_in: VertexStandIn, token: str, contents: list[dict[str, Any]], stream: bool = False
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return post(model_url(stand_in, stream=stream), json.dumps({"contents": contents}).encode(), headers)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


def model_says(text: str) -> dict[str, Any]:
    return {"role": "model", "parts": [{"text": text}]}


class ServiceAccount(dict[str, Any]):
    """The service-account JSON; its repr leaves the private key out of test reports."""

    def __repr__(self) -> str:
        return f"<service account {self.get('client_email')}>"


@pytest.fixture
def vertex(tmp_path: Path) -> Iterator[tuple[VertexStandIn, ServiceAccount]]:
    stand_in = VertexStandIn()
    stand_in.start()
    info = ServiceAccount(json.loads(stand_in.write_service_account(tmp_path / "sa.json").read_text()))
    yield stand_in, info
    stand_in.stop()


@pytest.fixture
def token(vertex: tuple[VertexStandIn, ServiceAccount]) -> str:
    stand_in, info = vertex
    status, body = ask_token(stand_in, make_jwt(info["private_key"], grant_claims(info["client_email"])))
    assert status == 200, body
    return str(body["access_token"])


# -- (a) the token step and the rules, directly ----------------------------------------------------
def test_service_account_file_is_fresh_and_points_here(
    vertex: tuple[VertexStandIn, ServiceAccount], tmp_path: Path
) -> None:
    stand_in, info = vertex
    assert info["type"] == "service_account" and info["token_uri"] == f"{stand_in.url}/token"
    assert info["project_id"] == PROJECT and info["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    other = json.loads(stand_in.write_service_account(tmp_path / "other.json").read_text())
    assert other["private_key"] != info["private_key"]  # generated at run time, never a fixed key


def test_google_auth_gets_a_token_from_the_stand_in(
    vertex: tuple[VertexStandIn, ServiceAccount], tmp_path: Path
) -> None:
    """The real client: google-auth (gateway env) signs the JWT-bearer grant and posts it to `/token`."""
    stand_in, _ = vertex
    code = (
        "import sys; from google.oauth2 import service_account; from google.auth.transport.requests import Request\n"
        "c = service_account.Credentials.from_service_account_file(sys.argv[1],"
        " scopes=['https://www.googleapis.com/auth/cloud-platform'])\n"
        "c.refresh(Request()); print(c.token)\n"
    )
    out = subprocess.run(
        ["uv", "run", "--project", str(GATEWAY), "--no-sync", "python", "-c", code, str(tmp_path / "sa.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == stand_in.issued_tokens[-1]
    claims = stand_in.token_grants[-1]
    assert claims["aud"] == GOOGLE_TOKEN_URL  # google-auth signs for Google's endpoint whatever token_uri says
    assert claims["iss"].endswith(f"@{PROJECT}.iam.gserviceaccount.com")
    assert "cloud-platform" in claims["scope"]


def test_token_step_rejects_a_forged_or_misaddressed_jwt(vertex: tuple[VertexStandIn, ServiceAccount]) -> None:
    stand_in, info = vertex
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged_pem = forger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    status, body = ask_token(stand_in, make_jwt(forged_pem, grant_claims(info["client_email"])))
    assert (status, body) == (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    status, body = ask_token(stand_in, make_jwt(info["private_key"], grant_claims(info["client_email"], "https://x")))
    assert status == 400 and "audience" in body["error_description"]
    form = urlencode({"grant_type": "client_credentials"}).encode()
    status, _ = post(stand_in.token_uri, form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    assert stand_in.issued_tokens == []
    assert stand_in.rejections == ["token:invalid_grant", "token:invalid_grant", "token:unsupported_grant_type"]


def test_model_requires_an_issued_token(vertex: tuple[VertexStandIn, ServiceAccount], token: str) -> None:
    stand_in, _ = vertex
    status, body = generate(stand_in, "ya29.not-issued", [user("hi")])
    assert status == 401
    assert json.loads(body) == {"error": {"code": 401, "message": MSG_UNAUTHENTICATED, "status": "UNAUTHENTICATED"}}
    status, body = generate(stand_in, token, [user("hi")])
    assert status == 200 and json.loads(body)["candidates"][0]["content"]["parts"] == [{"text": "ok"}]
    assert stand_in.rejections == ["auth"]


def test_non_streaming_reply_with_thinking_and_tool_call(
    vertex: tuple[VertexStandIn, ServiceAccount], token: str
) -> None:
    stand_in, _ = vertex
    stand_in.script(
        Reply(
            text="Checking.",
            thinking="need the time",
            tool_calls=[ToolCall("get_time", {"tz": "UTC"})],
            reasoning_tokens=5,
            input_tokens=11,  # scripted usage: promptTokenCount, its cached part included
            cached_tokens=2,
        )
    )
    status, body = generate(stand_in, token, [user("time?")])
    data = json.loads(body)
    parts = data["candidates"][0]["content"]["parts"]
    assert status == 200 and data["candidates"][0]["finishReason"] == "STOP"
    assert parts[0]["thought"] is True and parts[0]["text"] == "need the time"
    assert parts[1] == {"text": "Checking."}  # non-streaming: the text pieces come as one part
    assert parts[-1]["functionCall"] == {"name": "get_time", "args": {"tz": "UTC"}}
    assert stand_in.issued_signatures == [parts[0]["thoughtSignature"], parts[-1]["thoughtSignature"]]
    assert data["usageMetadata"] == {
        "promptTokenCount": 11,
        "candidatesTokenCount": 7,
        "totalTokenCount": 23,
        "thoughtsTokenCount": 5,
        "cachedContentTokenCount": 2,
    }


def test_sse_framing_and_cut(vertex: tuple[VertexStandIn, ServiceAccount], token: str) -> None:
    stand_in, _ = vertex
    stand_in.script(Reply(text="abcdef", chunks=3), Reply(text="abcdef", chunks=3, cut_after=1))
    status, body = generate(stand_in, token, [user("hi")], stream=True)
    frames = body.split(b"\r\n\r\n")
    assert status == 200 and frames[-1] == b"" and all(f.startswith(b"data: ") for f in frames[:-1])
    chunks = [json.loads(f[len(b"data: ") :]) for f in frames[:-1]]
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "abcdef"
    assert [("usageMetadata" in c, c["candidates"][0].get("finishReason")) for c in chunks] == [
        (False, None),
        (False, None),
        (True, "STOP"),
    ]
    status, body = generate(stand_in, token, [user("hi")], stream=True)
    assert body.count(b"data: ") == 1 and b"STOP" not in body


@pytest.mark.parametrize(
    ("status", "google_status"), [(429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (400, "INVALID_ARGUMENT")]
)
def test_scripted_errors_use_google_bodies(
    vertex: tuple[VertexStandIn, ServiceAccount], token: str, status: int, google_status: str
) -> None:
    stand_in, _ = vertex
    stand_in.script(Reply(status=status, error_message="Quota exceeded"))
    got, body = generate(stand_in, token, [user("hi")])
    assert (got, json.loads(body)) == (
        status,
        {"error": {"code": status, "message": "Quota exceeded", "status": google_status}},
    )


def fcall(name: str, sig: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"functionCall": {"name": name, "args": {}}}
    if sig:
        part["thoughtSignature"] = sig
    return part


def fresp(name: str) -> dict[str, Any]:
    return {"functionResponse": {"name": name, "response": {"content": "x"}}}


@pytest.mark.parametrize(
    ("contents", "rule", "message"),
    [
        ([model_says("hi"), user("hi")], "alternate", MSG_ALTERNATE),
        ([user("a"), user("b")], "alternate", MSG_ALTERNATE),
        (
            [user("a"), {"role": "model", "parts": [fcall("f"), fcall("g")]}, {"role": "user", "parts": [fresp("f")]}],
            "function-response-count",
            MSG_RESPONSE_COUNT,
        ),
        (
            [
                user("a"),
                {"role": "model", "parts": [fcall("f"), fcall("g")]},
                {"role": "user", "parts": [fresp("g"), fresp("f")]},
            ],
            "function-response-count",
            MSG_RESPONSE_COUNT,
        ),
        (
            [user("a"), {"role": "model", "parts": [fcall("f")]}, user("never mind")],
            "function-response-count",
            MSG_RESPONSE_COUNT,
        ),
        (
            [user("a"), model_says("b"), {"role": "user", "parts": [fresp("f")]}],
            "function-response-placement",
            MSG_RESPONSE_PLACEMENT,
        ),
        (
            [user("a"), {"role": "model", "parts": [fcall("f", "Zm9yZ2Vk")]}, {"role": "user", "parts": [fresp("f")]}],
            "thought-signature",
            MSG_SIGNATURE,
        ),
        # the snake_case spelling LiteLLM sends is held to the same rules
        (
            [
                user("a"),
                model_says("b"),
                {"role": "user", "parts": [{"function_response": fresp("f")["functionResponse"]}]},
            ],
            "function-response-placement",
            MSG_RESPONSE_PLACEMENT,
        ),
        (
            [
                user("a"),
                {"role": "model", "parts": [{"function_call": {"name": "f"}, "thought_signature": "Zm9yZ2Vk"}]},
            ],
            "thought-signature",
            MSG_SIGNATURE,
        ),
    ],
)
def test_vertex_rules(
    vertex: tuple[VertexStandIn, ServiceAccount], token: str, contents: list[dict[str, Any]], rule: str, message: str
) -> None:
    stand_in, _ = vertex
    status, body = generate(stand_in, token, contents)
    assert (status, json.loads(body)) == (
        400,
        {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}},
    )
    assert stand_in.rejections == [rule]


def test_valid_tool_round_trip_with_issued_or_bypass_signature(
    vertex: tuple[VertexStandIn, ServiceAccount], token: str
) -> None:
    stand_in, _ = vertex
    stand_in.script(Reply(thinking="t", tool_calls=[ToolCall("f", {})]))
    _, body = generate(stand_in, token, [user("a")])
    turn = json.loads(body)["candidates"][0]["content"]
    for model_turn in (turn, {"role": "model", "parts": [fcall("f", SKIP_SIGNATURE)]}):
        status, body = generate(stand_in, token, [user("a"), model_turn, {"role": "user", "parts": [fresp("f")]}])
        assert status == 200, body
    assert stand_in.rejections == []
    assert [len(c.contents) for c in stand_in.calls] == [1, 3, 3]


# -- (b) through a real LiteLLM proxy --------------------------------------------------------------
FLASH_20 = "vertex-gemini-2.0-flash"
FLASH_25 = "vertex-gemini-2.5-flash"
# No model_info, on a model LiteLLM's price map lists without capability flags. (model_info given for one
# alias is registered for its underlying model, so the bare alias must not share gemini-2.0-flash.)
LITE_20_BARE = "vertex-gemini-2.0-flash-lite-bare"


@pytest.fixture(scope="module")
def gemini() -> Iterator[VertexStandIn]:
    stand_in = VertexStandIn()
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, gemini: VertexStandIn) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("vertex-proxy")
    sa_path = tmp / "service-account.json"
    gemini.write_service_account(sa_path)
    common = {"vertex_project": PROJECT, "vertex_location": LOCATION, "api_base": gemini.url}
    capabilities = {"supports_system_messages": True, "supports_function_calling": True}
    config = {
        "model_list": [
            {
                "model_name": FLASH_20,
                "litellm_params": {"model": "vertex_ai/gemini-2.0-flash", **common},
                "model_info": capabilities,
            },
            {"model_name": FLASH_25, "litellm_params": {"model": "vertex_ai/gemini-2.5-flash", **common}},
            # credentials named in the config instead of GOOGLE_APPLICATION_CREDENTIALS
            {
                "model_name": LITE_20_BARE,
                "litellm_params": {
                    "model": "vertex_ai/gemini-2.0-flash-lite",
                    "vertex_credentials": str(sa_path),
                    **common,
                },
            },
        ],
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        "router_settings": {"num_retries": 0},  # one scripted error reply, one upstream attempt
    }
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(sa_path)}
    with Proxy.start(write_config(tmp / "config.yaml", config), env, tmp / "proxy.log") as running:
        yield running


@pytest.fixture
def upstream(gemini: VertexStandIn) -> VertexStandIn:
    gemini.reset()
    return gemini


@pytest.fixture(scope="module")
def client(proxy: Proxy) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=proxy.base_url, api_key=proxy.master_key, max_retries=0, timeout=60)


def stream_turn(client: Any, **kwargs: Any) -> tuple[list[Any], Any]:
    """All events of one streamed Responses call, and the final response (completed or failed)."""
    events = list(client.responses.create(stream=True, **kwargs))
    finals = [e for e in events if e.type in ("response.completed", "response.failed", "response.incomplete")]
    return events, finals[-1].response if finals else None


def replayable(items: list[Any]) -> list[dict[str, Any]]:
    # warnings=False: LiteLLM's reasoning item carries `output_text` content where the SDK expects
    # `reasoning_text`, and pydantic would warn about it on every dump.
    return [item.model_dump(exclude_none=True, warnings=False) for item in items]


def text_of(events: list[Any]) -> list[str]:
    return [e.delta for e in events if e.type == "response.output_text.delta"]


def test_proxy_fetches_a_token_and_streams_text(upstream: VertexStandIn, client: Any) -> None:
    upstream.script(Reply(text="Hello from Gemini", chunks=4))
    events, final = stream_turn(client, model=FLASH_20, input="hi")
    assert "".join(text_of(events)) == "Hello from Gemini" and len(text_of(events)) == 4
    assert final.status == "completed" and final.output[0].content[0].text == "Hello from Gemini"
    (call,) = upstream.model_requests()
    assert call.path == (
        f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/gemini-2.0-flash"
        ":streamGenerateContent?alt=sse"
    )
    # the proxy signed a JWT-bearer grant with the service account and uses the token it got
    assert upstream.token_grants and upstream.token_grants[0]["aud"] == GOOGLE_TOKEN_URL
    assert call.header("Authorization") in [f"Bearer {t}" for t in upstream.issued_tokens]
    # counted from the request (prompt_cache.py's rule): the one user part "hi" is 1 + ceil(2 / 4) tokens
    assert final.usage.input_tokens == 2 and final.usage.output_tokens == 7
    assert upstream.rejections == []


def test_proxy_system_prompt_becomes_system_instruction(upstream: VertexStandIn, client: Any) -> None:
    stream_turn(client, model=FLASH_20, input="hi", instructions="Answer in French.")
    stream_turn(client, model=LITE_20_BARE, input="hi", instructions="Answer in French.")
    with_info, bare = upstream.calls
    # LiteLLM writes the snake_case field name, which Vertex accepts too
    assert "system_instruction" in with_info.body and with_info.system_text() == "Answer in French."
    assert with_info.contents == [user("hi")]
    # without supports_system_messages the system prompt is folded into the first user turn
    assert bare.system_instruction is None
    assert len(bare.contents) == 1 and "Answer in French." in json.dumps(bare.contents[0])


TIME_TOOL = {
    "type": "function",
    "name": "get_time",
    "description": "Current time in a time zone.",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
}


def test_proxy_tool_call_round_trip(upstream: VertexStandIn, client: Any) -> None:
    upstream.script(Reply(text="", tool_calls=[ToolCall("get_time", {"tz": "UTC"})]), Reply(text="It is noon."))
    _, first = stream_turn(client, model=FLASH_20, input="What time is it?", tools=[TIME_TOOL])
    (fc,) = [item for item in first.output if item.type == "function_call"]
    assert fc.name == "get_time" and json.loads(fc.arguments) == {"tz": "UTC"}
    assert [d["name"] for d in upstream.calls[0].function_declarations()] == ["get_time"], upstream.calls[0].tools
    history = [{"role": "user", "content": "What time is it?"}, *replayable(first.output)]
    history.append({"type": "function_call_output", "call_id": fc.call_id, "output": "12:00"})
    events, second = stream_turn(client, model=FLASH_20, input=history, tools=[TIME_TOOL])
    assert "".join(text_of(events)) == "It is noon." and second.status == "completed"
    replay = upstream.calls[1].contents
    assert [c["role"] for c in replay] == ["user", "model", "user"]
    assert replay[1]["parts"][-1]["functionCall"] == {"name": "get_time", "args": {"tz": "UTC"}}
    (resp_part,) = replay[2]["parts"]
    assert resp_part["functionResponse"]["name"] == "get_time" and "12:00" in json.dumps(resp_part)
    assert upstream.rejections == []


def test_proxy_three_turn_history_in_gemini_format(upstream: VertexStandIn, client: Any) -> None:
    history = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
        {"role": "assistant", "content": "four"},
        {"role": "user", "content": "five"},
    ]
    stream_turn(client, model=FLASH_20, input=history)
    assert upstream.calls[0].contents == [
        user("one"),
        model_says("two"),
        user("three"),
        model_says("four"),
        user("five"),
    ]


@pytest.mark.parametrize(("status", "code"), [(429, "rate_limit_exceeded"), (500, "server_error")])
def test_proxy_upstream_errors_arrive_as_response_failed(
    upstream: VertexStandIn, client: Any, status: int, code: str
) -> None:
    """Vertex errors on a streamed Responses call reach the client as HTTP 200 + `response.failed`."""
    upstream.script(Reply(status=status, error_message="stand-in says no"))
    events, final = stream_turn(client, model=FLASH_20, input="hi")
    assert [e.type for e in events] == ["response.failed"]
    assert final.status == "failed" and final.error.code == code and "stand-in says no" in final.error.message
    assert len(upstream.calls) == 1  # num_retries 0: one upstream attempt


def test_proxy_reasoning_signatures_on_responses_replay(upstream: VertexStandIn, client: Any) -> None:
    """Gemini 2.5 thinking through /v1/responses: which thought signatures survive a replay of the items."""
    upstream.script(
        Reply(
            text="",
            thinking="The user wants the time.",
            tool_calls=[ToolCall("get_time", {"tz": "UTC"})],
            reasoning_tokens=9,
        ),
        Reply(text="It is noon."),
    )
    kwargs: dict[str, Any] = {
        "model": FLASH_25,
        "tools": [TIME_TOOL],
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
    }
    events, first = stream_turn(client, input="What time is it?", **kwargs)
    assert upstream.calls[0].generation_config == {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}
    assert "response.reasoning_summary_text.delta" in [e.type for e in events]
    thought_sig, call_sig = upstream.issued_signatures
    reasoning, fc = first.output
    # the thought text comes back, but no encrypted_content: the thought part's signature is dropped here
    assert reasoning.type == "reasoning" and reasoning.encrypted_content is None
    assert thought_sig not in json.dumps(first.model_dump(warnings=False))
    # the function call's signature rides in the call_id (and provider_specific_fields)
    assert fc.type == "function_call" and fc.call_id.endswith(f"__thought__{call_sig}")
    assert first.usage.output_tokens_details.reasoning_tokens == 9

    # replay without provider_specific_fields, as a client that keeps only standard fields would
    items = [{k: v for k, v in item.items() if k != "provider_specific_fields"} for item in replayable(first.output)]
    output = {"type": "function_call_output", "call_id": fc.call_id, "output": "12:00"}
    events, second = stream_turn(
        client, input=[{"role": "user", "content": "What time is it?"}, *items, output], **kwargs
    )
    assert second.status == "completed" and "".join(text_of(events)) == "It is noon."
    model_turn = upstream.calls[1].contents[1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0] == {"thought": True, "text": "The user wants the time."}  # unsigned
    assert model_turn["parts"][-1]["thoughtSignature"] == call_sig
    assert upstream.rejections == []

    # a signature this "Vertex" never issued is refused, and the client sees the 400 as response.failed
    forged = fc.call_id.replace(call_sig, "Zm9yZ2VkLXNpZ25hdHVyZQ==")
    items[-1]["call_id"] = forged
    output["call_id"] = forged
    events, third = stream_turn(
        client, input=[{"role": "user", "content": "What time is it?"}, *items, output], **kwargs
    )
    print("forged signature:", [e.type for e in events], third.error)
    assert upstream.rejections == ["thought-signature"]
    assert third.status == "failed" and "Thought signature is not valid" in third.error.message
