"""AWS Bedrock Runtime's Converse API, as LiteLLM reaches it for `bedrock/converse/<modelId>` (or a plain
`bedrock/<modelId>` that LiteLLM knows as a Converse model) with `aws_bedrock_runtime_endpoint` pointing here.

`POST /model/{modelId}/converse` answers JSON; `POST /model/{modelId}/converse-stream` answers the AWS
event-stream binary framing (`application/vnd.amazon.eventstream`). Requests must carry a SigV4 signature
that this stand-in recomputes from the fake secret, and the conversation must obey Bedrock's own rules
(alternating roles, tool results answering the previous turn's tool uses, signed reasoning), else the
stand-in answers Bedrock's 4xx error body with its real wording.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
import re
import secrets
import struct
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from .prompt_cache import (
    TOO_MANY_POINTS,
    CacheUsage,
    PrefixCache,
    bedrock_caches,
    bedrock_request,
    claude_min_tokens,
    reported,
)
from .script import Recorded, Reply
from .server import StandIn

# Fake static credentials: the proxy config names them, the stand-in recomputes signatures with them.
ACCESS_KEY = "AKIASTANDIN000000000"
SECRET_KEY = "standin/secret/0000000000000000000000000"

EVENTSTREAM = "application/vnd.amazon.eventstream"

# Bedrock's `x-amzn-ErrorType` for an HTTP status (the part before ':' is what SDKs read).
ERROR_TYPES: dict[int, str] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}

# Real wordings, as Bedrock (and Claude behind it) send them.
MSG_ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation alternates "
    "between user and assistant roles and try again."
)
MSG_START_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user message."
)
MSG_RESULTS_EXCEED = (
    "The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of previous turn."
)
MSG_RESULT_UNKNOWN_ID = (
    "The model returned the following errors: messages.{i}.content.{j}: unexpected `tool_use_id` found in "
    "`tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the "
    "previous message."
)
MSG_USE_UNANSWERED = (
    "The model returned the following errors: messages.{i}: `tool_use` ids were found without `tool_result` "
    "blocks immediately after: {ids}. Each `tool_use` block must have a corresponding `tool_result` block in "
    "the next message."
)
MSG_SIGNATURE_MISSING = (
    "The model returned the following errors: messages.{i}.content.{j}.thinking.signature: Field required"
)
MSG_SIGNATURE_INVALID = (
    "The model returned the following errors: messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
)
MSG_CACHE_UNSUPPORTED = (
    "You invoked an unsupported model or your request did not allow prompt caching. See the documentation for "
    "more information."
)
MSG_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)
_PATH_RE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|converse-stream)$")
_CLOCK_SKEW = dt.timedelta(minutes=5)  # SigV4 refuses requests dated further off than this


# -- AWS event-stream framing ----------------------------------------------------------------------
def encode_event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (total length, headers length, CRC32), string headers,
    payload, message CRC32 (all big-endian). Only the string header type (7) is needed here."""
    raw_headers = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        raw_headers += struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    head = prelude + struct.pack(">I", binascii.crc32(prelude)) + raw_headers + payload
    return head + struct.pack(">I", binascii.crc32(head))


def encode_event(event_type: str, body: dict[str, Any]) -> bytes:
    """A ConverseStream event (`:message-type` event) with a JSON payload."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_event_message(headers, json.dumps(body, separators=(",", ":")).encode())


# -- SigV4 ------------------------------------------------------------------------------------------
def expected_signature(
    method: str, url: str, headers: dict[str, str], body: bytes, amz_date: str, region: str, secret_key: str
) -> str:
    """SigV4 signature (service `bedrock`) recomputed with botocore's own signer, given the signed headers."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials("unused", secret_key), "bedrock", region)
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    request.context["timestamp"] = amz_date
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


@dataclass
class ConverseCall:
    """One model request as Bedrock saw it (its own field names)."""

    model_id: str  # URL-decoded, e.g. anthropic.claude-3-5-sonnet-20240620-v1:0
    stream: bool
    region: str  # from the SigV4 credential scope
    messages: list[dict[str, Any]]
    system: list[dict[str, Any]] | None
    tool_config: dict[str, Any] | None
    inference_config: dict[str, Any] | None
    additional_fields: dict[str, Any] | None  # additionalModelRequestFields (e.g. thinking)
    cache: CacheUsage | None = None  # what the prompt cache measured, once the request was answered


class BedrockStandIn(StandIn):
    """Bedrock Runtime Converse/ConverseStream with SigV4 checks and Bedrock's conversation rules.

    `calls` lists every accepted-or-rejected model request in Bedrock's terms (system and toolConfig
    included); `issued_signatures` holds every reasoning signature handed out (kept across `reset()`,
    as a real signature stays valid). `cache` is Claude's prompt cache (prompt_cache.py), also kept.
    """

    name = "bedrock-stand-in"

    def __init__(
        self,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        region: str | None = None,
        verify_signature: bool = True,
    ) -> None:
        super().__init__()
        self.access_key = access_key
        self._secret_key = secret_key
        self.region = region  # when set, the credential scope must name it
        self.verify_signature = verify_signature
        self.calls: list[ConverseCall] = []
        self.issued_signatures: set[str] = set()
        self.cache = PrefixCache()

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.calls.clear()

    # -- errors -------------------------------------------------------------------------------------
    @staticmethod
    def error_headers(status: int, error_type: str | None = None) -> dict[str, str]:
        kind = error_type or ERROR_TYPES.get(status, "InternalServerException")
        return {
            "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": str(uuid.uuid4()),
        }

    def send_error(self, h: BaseHTTPRequestHandler, status: int, message: str, error_type: str | None = None) -> None:
        self.send_json(h, status, {"message": message}, self.error_headers(status, error_type))

    def refuse(
        self, h: BaseHTTPRequestHandler, status: int, message: str, rule: str, error_type: str | None = None
    ) -> None:
        """Like `reject`, with Bedrock's error headers."""
        with self._lock:
            self.rejections.append(rule)
        self.send_error(h, status, message, error_type)

    # -- request checks -----------------------------------------------------------------------------
    def check_auth(self, req: Recorded) -> tuple[int, str, str, str] | str:
        """The SigV4 region of a well-signed request, else (status, error type, message, rule)."""
        auth = req.header("Authorization")
        amz_date = req.header("X-Amz-Date")
        if not auth or not amz_date:
            return (403, "MissingAuthenticationTokenException", "Missing Authentication Token", "sigv4-missing")
        m = _AUTH_RE.match(auth.strip())
        if not m:
            return (
                403,
                "IncompleteSignatureException",
                f"Authorization header requires 'Credential', "
                f"'SignedHeaders' and 'Signature' parameters. Authorization={auth.split(' ')[0]}",
                "sigv4-shape",
            )
        parts = m["cred"].split("/")
        if len(parts) != 5 or parts[3] != "bedrock" or parts[4] != "aws4_request" or parts[1] != amz_date[:8]:
            return (
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region and service 'bedrock'. ({m['cred'].split('/', 1)[-1]})",
                "sigv4-credential-scope",
            )
        key, region = parts[0], parts[2]
        if key != self.access_key:
            return (
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                "sigv4-unknown-access-key",
            )
        if self.region is not None and region != self.region:
            return (
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}'.",
                "sigv4-region",
            )
        try:
            when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return (403, "IncompleteSignatureException", f"Invalid X-Amz-Date {amz_date}", "sigv4-date")
        if abs(dt.datetime.now(dt.UTC) - when) > _CLOCK_SKEW:
            return (
                403,
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier or later than the allowed 5 minutes.",
                "sigv4-expired",
            )
        signed = m["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return (403, "InvalidSignatureException", MSG_SIGNATURE_MISMATCH, "sigv4-signed-headers")
        if self.verify_signature:
            headers = {name: req.header(name) or "" for name in signed}
            url = f"http://{req.header('Host')}{req.path}"
            want = expected_signature(req.method, url, headers, req.raw, amz_date, region, self._secret_key)
            if not hmac.compare_digest(want, m["sig"]):
                return (403, "InvalidSignatureException", MSG_SIGNATURE_MISMATCH, "sigv4-signature-mismatch")
        return region

    def check_conversation(self, messages: Any) -> tuple[str, str] | None:
        """Bedrock's rules for `messages`: (rule, message) of the first breach, else None."""
        if not isinstance(messages, list) or not messages:
            return (
                "messages-required",
                "A conversation must start with a user message. Try again with a "
                "conversation that starts with a user message.",
            )
        if messages[0].get("role") != "user":
            return ("start-with-user", MSG_START_USER)
        for i, msg in enumerate(messages):
            if i and msg.get("role") == messages[i - 1].get("role"):
                return ("alternate-roles", MSG_ALTERNATE)
            if msg.get("role") not in ("user", "assistant"):
                return ("alternate-roles", MSG_ALTERNATE)
        for i, msg in enumerate(messages):
            content = msg.get("content") or []
            prev_uses: list[str] = []
            if i and messages[i - 1].get("role") == "assistant":
                prev_uses = [
                    b["toolUse"].get("toolUseId")
                    for b in messages[i - 1].get("content") or []
                    if isinstance(b, dict) and "toolUse" in b
                ]
            if msg.get("role") == "user":
                results = [
                    (j, b["toolResult"]) for j, b in enumerate(content) if isinstance(b, dict) and "toolResult" in b
                ]
                if len(results) > len(prev_uses):
                    return ("tool-result-answers-tool-use", MSG_RESULTS_EXCEED.format(i=i))
                for j, result in results:
                    if result.get("toolUseId") not in prev_uses:
                        return (
                            "tool-result-answers-tool-use",
                            MSG_RESULT_UNKNOWN_ID.format(i=i, j=j, id=result.get("toolUseId")),
                        )
                answered = {r.get("toolUseId") for _, r in results}
                missing = [u for u in prev_uses if u not in answered]
                if missing:
                    return ("tool-use-answered", MSG_USE_UNANSWERED.format(i=i - 1, ids=", ".join(missing)))
            else:
                for j, block in enumerate(content):
                    if not isinstance(block, dict) or "reasoningContent" not in block:
                        continue
                    text = (block["reasoningContent"] or {}).get("reasoningText")
                    if text is None:
                        continue  # redactedContent: nothing this stand-in issues, nothing to check
                    signature = text.get("signature")
                    if not signature:
                        return ("reasoning-signature-required", MSG_SIGNATURE_MISSING.format(i=i, j=j))
                    with self._lock:
                        known = signature in self.issued_signatures
                    if not known:
                        return ("reasoning-signature-issued", MSG_SIGNATURE_INVALID.format(i=i, j=j))
        return None

    # -- serving ------------------------------------------------------------------------------------
    def handle(self, req: Recorded, h: BaseHTTPRequestHandler) -> None:
        path = urlsplit(req.path).path
        m = _PATH_RE.match(path) if req.method == "POST" else None
        if not m:
            self.refuse(h, 404, f"Unknown operation {req.method} {path}", "unknown-path", "UnknownOperationException")
            return
        auth = self.check_auth(req)
        if isinstance(auth, tuple):
            status, kind, message, rule = auth
            self.refuse(h, status, message, rule, kind)
            return
        model_id = unquote(m["model"])  # LiteLLM quotes the id (':' arrives as %3A)
        body = req.body if isinstance(req.body, dict) else {}
        call = ConverseCall(
            model_id=model_id,
            stream=m["op"] == "converse-stream",
            region=auth,
            messages=body.get("messages") or [],
            system=body.get("system"),
            tool_config=body.get("toolConfig"),
            inference_config=body.get("inferenceConfig"),
            additional_fields=body.get("additionalModelRequestFields"),
        )
        with self._lock:
            self.calls.append(call)
        if not isinstance(req.body, dict):
            self.refuse(h, 400, "Malformed input request, please reformat your input and try again.", "json-body")
            return
        breach = self.check_conversation(body.get("messages"))
        if breach:
            rule, message = breach
            self.refuse(h, 400, message, rule)
            return
        cached = bedrock_request(body)
        if cached.markers and not bedrock_caches(model_id):
            self.refuse(h, 400, MSG_CACHE_UNSUPPORTED, "cache-point-model-supported")
            return
        if cached.markers > 4:
            message = "The model returned the following errors: " + TOO_MANY_POINTS.format(n=cached.markers)
            self.refuse(h, 400, message, "cache-points-max-4")
            return
        limit = (body.get("inferenceConfig") or {}).get("maxTokens") if isinstance(body, dict) else None
        reply = self.next_reply().capped(limit)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self.send_error(h, reply.status, reply.error_message)
            return
        call.cache = reported(
            reply, self.cache.explicit(model_id, cached.blocks, cached.points, claude_min_tokens(model_id))
        )
        if call.stream:
            self._stream(h, reply, call.cache)
        else:
            self._respond(h, reply, call.cache)

    def _signature_for(self, reply: Reply) -> str:
        signature = reply.signature or base64.b64encode(secrets.token_bytes(48)).decode()
        with self._lock:
            self.issued_signatures.add(signature)
        return signature

    @staticmethod
    def usage(reply: Reply, cache: CacheUsage) -> dict[str, Any]:
        # inputTokens leaves out what was read from or written to the cache; totalTokens counts everything.
        usage: dict[str, Any] = {
            "inputTokens": cache.input_tokens,
            "outputTokens": reply.output_tokens,
            "totalTokens": cache.total + reply.output_tokens,
            "cacheReadInputTokens": cache.read_tokens,
            "cacheWriteInputTokens": cache.write_tokens,
        }
        if cache.write_tokens:
            usage["cacheDetails"] = [{"ttl": "5m", "inputTokens": cache.write_tokens}]
        return usage

    @staticmethod
    def stop_reason(reply: Reply) -> str:
        if reply.stop == "length":
            return "max_tokens"  # Converse's stopReason for an answer that reached inferenceConfig.maxTokens
        return "tool_use" if reply.tool_calls else "end_turn"

    def _respond(self, h: BaseHTTPRequestHandler, reply: Reply, cache: CacheUsage) -> None:
        content: list[dict[str, Any]] = []
        if reply.thinking is not None:
            signature = self._signature_for(reply)
            content.append({"reasoningContent": {"reasoningText": {"text": reply.thinking, "signature": signature}}})
        if reply.text:
            content.append({"text": reply.text})
        for call in reply.tool_calls:
            content.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}})
        payload = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": self.stop_reason(reply),
            "usage": self.usage(reply, cache),
            "metrics": {"latencyMs": int(reply.delay * 1000) + 1},
        }
        if reply.cut_after is None:
            self.send_json(h, 200, payload, {"x-amzn-RequestId": str(uuid.uuid4())})
            return
        # A cut answer: the promised length never arrives.
        data = json.dumps(payload).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        h.close_connection = True

    def stream_events(self, reply: Reply, cache: CacheUsage | None = None) -> list[bytes]:
        """The ConverseStream events for a reply, each one encoded message."""
        events = [encode_event("messageStart", {"role": "assistant"})]
        index = 0
        if reply.thinking is not None:
            signature = self._signature_for(reply)
            pieces = Reply(text=reply.thinking, chunks=reply.chunks).text_pieces() or [""]
            for piece in pieces:
                events.append(
                    encode_event(
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": piece}}},
                    )
                )
            events.append(
                encode_event(
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": signature}}},
                )
            )
            events.append(encode_event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        if reply.text:
            for piece in reply.text_pieces():
                events.append(encode_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}))
            events.append(encode_event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        for call in reply.tool_calls:
            events.append(
                encode_event(
                    "contentBlockStart",
                    {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": call.id, "name": call.name}}},
                )
            )
            arguments = json.dumps(call.arguments)
            half = len(arguments) // 2
            for piece in (arguments[:half], arguments[half:]):  # input arrives as JSON text in pieces
                if piece:
                    events.append(
                        encode_event(
                            "contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}
                        )
                    )
            events.append(encode_event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        events.append(encode_event("messageStop", {"stopReason": self.stop_reason(reply)}))
        events.append(
            encode_event(
                "metadata",
                {
                    "usage": self.usage(reply, cache or CacheUsage(reply.scripted_input(), reply.cached_tokens, 0)),
                    "metrics": {"latencyMs": int(reply.delay * 1000) + 1},
                },
            )
        )
        return events

    def _stream(self, h: BaseHTTPRequestHandler, reply: Reply, cache: CacheUsage) -> None:
        events = self.stream_events(reply, cache)
        self.start_stream(h, EVENTSTREAM)
        for n, event in enumerate(events):
            if reply.cut_after is not None and n >= reply.cut_after:
                # The connection drops mid-message, as a network cut does: half a frame, then EOF.
                self.write(h, event[: len(event) // 2], reply.chunk_delay if n else 0.0)
                return
            self.write(h, event, reply.chunk_delay if n else 0.0)
