"""Azure AI Foundry's Anthropic Messages endpoint, as LiteLLM's `azure_ai/claude-*` reaches it:
`POST {api_base}/anthropic/v1/messages` with the key in `api-key` (and `x-api-key`)."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from .prompt_cache import TOO_MANY_POINTS, CacheUsage, PrefixCache, anthropic_request, claude_min_tokens, reported
from .script import Recorded, Reply
from .server import StandIn

MESSAGES_PATH = "/anthropic/v1/messages"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

THINKING_FIRST = (
    "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When "
    "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
    "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
    "previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error body for an HTTP status."""
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": _id("req_")}


def _id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _ids(blocks: list[dict[str, Any]], kind: str, key: str) -> list[str]:
    return [str(b.get(key)) for b in blocks if b.get("type") == kind]


class AnthropicStandIn(StandIn):
    """Anthropic Messages (streaming SSE and plain JSON), strict about history like the real service.

    `api_key`: when set, `api-key` or `x-api-key` must equal it; otherwise any non-empty key passes.
    `issued_signatures`: every thinking signature this stand-in sent; replayed thinking must carry one.
    `cache`: Claude's prompt cache (prompt_cache.py), kept across `reset()` as the cloud's is; `cache_usage`
    lists what it measured for each answered request.
    """

    name = "anthropic-stand-in"

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.issued_signatures: set[str] = set()
        self._sig_lock = threading.Lock()
        self.cache = PrefixCache()
        self.cache_usage: list[CacheUsage] = []

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.cache_usage.clear()

    # -- protocol checks --------------------------------------------------------------------------
    def _breach(self, body: dict[str, Any]) -> tuple[str, str] | None:
        """(rule, message) of the first rule the request breaks, worded as the real service words it."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return ("messages-required", "messages: Field required")
        if messages[0].get("role") != "user":
            return ("first-message-user", 'messages: first message must use the "user" role')
        for prev, msg in zip(messages, messages[1:], strict=False):
            if msg.get("role") == prev.get("role"):
                role = msg.get("role")
                return (
                    "roles-alternate",
                    f'messages: roles must alternate between "user" and "assistant", '
                    f'but found multiple "{role}" roles in a row',
                )
        for i, msg in enumerate(messages):
            blocks = _blocks(msg)
            if msg.get("role") == "user":
                offered = _ids(_blocks(messages[i - 1]), "tool_use", "id") if i else []
                for j, block in enumerate(blocks):
                    if block.get("type") == "tool_result" and block.get("tool_use_id") not in offered:
                        return (
                            "tool-result-answers-tool-use",
                            f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                            f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                            "`tool_use` block in the previous message.",
                        )
        for i, msg in enumerate(messages):
            if msg.get("role") == "user":
                continue
            blocks = _blocks(msg)
            used = _ids(blocks, "tool_use", "id")
            answered = _ids(_blocks(messages[i + 1]), "tool_result", "tool_use_id") if i + 1 < len(messages) else []
            missing = [u for u in used if u not in answered]
            if missing:
                return (
                    "tool-use-answered",
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block "
                    "in the next message.",
                )
            for j, block in enumerate(blocks):
                if block.get("type") == "thinking":
                    if "signature" not in block:
                        return ("thinking-signature", f"messages.{i}.content.{j}.thinking.signature: Field required")
                    with self._sig_lock:
                        known = block["signature"] in self.issued_signatures
                    if not known:
                        return (
                            "thinking-signature",
                            f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block",
                        )
                elif block.get("type") == "redacted_thinking":
                    # This stand-in never issues redacted thinking, so none can be genuine.
                    return (
                        "thinking-signature",
                        f"messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block",
                    )
        thinking_on = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        last = messages[-1]
        if thinking_on and len(messages) >= 2 and _ids(_blocks(last), "tool_result", "tool_use_id"):
            blocks = _blocks(messages[-2])
            found = blocks[0].get("type") if blocks else "nothing"
            if found not in ("thinking", "redacted_thinking"):
                return ("thinking-first-in-tool-loop", THINKING_FIRST.format(i=len(messages) - 2, found=found))
        return None

    def handle(self, req: Recorded, h: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0].rstrip("/")
        key = req.header("api-key") or req.header("x-api-key")
        if not key:
            self.reject(h, 401, anthropic_error(401, "x-api-key header is required"), "api-key-required")
            return
        if self.api_key is not None and key != self.api_key:
            self.reject(h, 401, anthropic_error(401, "invalid x-api-key"), "api-key-valid")
            return
        if req.method != "POST" or path != MESSAGES_PATH:
            self.send_json(h, 404, anthropic_error(404, "Not Found"))
            return
        body = req.body if isinstance(req.body, dict) else {}
        breach = self._breach(body)
        if breach is not None:
            rule, message = breach
            self.reject(h, 400, anthropic_error(400, message), rule)
            return

        cached = anthropic_request(body)
        if cached.markers > 4:
            self.reject(h, 400, anthropic_error(400, TOO_MANY_POINTS.format(n=cached.markers)), "cache-points-max-4")
            return

        reply = self.next_reply().capped(body.get("max_tokens") if isinstance(body, dict) else None)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self.send_json(h, reply.status, anthropic_error(reply.status, reply.error_message))
            return
        model = str(body.get("model") or "claude-sonnet-4-5")
        usage = reported(reply, self.cache.explicit(model, cached.blocks, cached.points, claude_min_tokens(model)))
        with self._lock:
            self.cache_usage.append(usage)
        signature = self._issue(reply)
        if body.get("stream"):
            self._stream(h, reply, model, signature, usage)
        else:
            self.send_json(h, 200, self._message(reply, model, signature, usage))

    def _issue(self, reply: Reply) -> str | None:
        """The signature for the reply's thinking: the scripted one or a fresh random one, remembered."""
        if reply.thinking is None:
            return None
        sig = reply.signature or base64.b64encode(secrets.token_bytes(48)).decode()
        with self._sig_lock:
            self.issued_signatures.add(sig)
        return sig

    # -- rendering ------------------------------------------------------------------------------
    @staticmethod
    def _stop_reason(reply: Reply) -> str:
        if reply.stop == "length":
            return "max_tokens"  # Anthropic's own words for an answer that reached its limit
        return "tool_use" if reply.tool_calls else "end_turn"

    @staticmethod
    def _input_usage(usage: CacheUsage) -> dict[str, Any]:
        # Anthropic's input_tokens excludes the cached part, which it reports apart (writes and reads).
        return {
            "input_tokens": usage.input_tokens,
            "cache_creation_input_tokens": usage.write_tokens,
            "cache_read_input_tokens": usage.read_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": usage.write_tokens, "ephemeral_1h_input_tokens": 0},
        }

    def _message(self, reply: Reply, model: str, signature: str | None, usage: CacheUsage) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.thinking is not None:
            content.append({"type": "thinking", "thinking": reply.thinking, "signature": signature})
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in reply.tool_calls]
        return {
            "id": _id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": self._stop_reason(reply),
            "stop_sequence": None,
            "usage": {**self._input_usage(usage), "output_tokens": reply.output_tokens},
        }

    def _stream(
        self, h: BaseHTTPRequestHandler, reply: Reply, model: str, signature: str | None, usage: CacheUsage
    ) -> None:
        events: list[tuple[str, dict[str, Any]]] = []

        def ev(kind: str, **data: Any) -> None:
            events.append((kind, {"type": kind, **data}))

        ev(
            "message_start",
            message={
                "id": _id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**self._input_usage(usage), "output_tokens": 1},
            },
        )
        index = 0
        if reply.thinking is not None:
            ev("content_block_start", index=index, content_block={"type": "thinking", "thinking": "", "signature": ""})
            ev("ping")
            for piece in Reply(text=reply.thinking, chunks=reply.chunks).text_pieces():
                ev("content_block_delta", index=index, delta={"type": "thinking_delta", "thinking": piece})
            ev("content_block_delta", index=index, delta={"type": "signature_delta", "signature": signature})
            ev("content_block_stop", index=index)
            index += 1
        if reply.text:
            ev("content_block_start", index=index, content_block={"type": "text", "text": ""})
            for piece in reply.text_pieces():
                ev("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
            ev("content_block_stop", index=index)
            index += 1
        for call in reply.tool_calls:
            ev(
                "content_block_start",
                index=index,
                content_block={"type": "tool_use", "id": call.id, "name": call.name, "input": {}},
            )
            args = json.dumps(call.arguments)
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                ev("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": piece})
            ev("content_block_stop", index=index)
            index += 1
        ev(
            "message_delta",
            delta={"stop_reason": self._stop_reason(reply), "stop_sequence": None},
            usage={"output_tokens": reply.output_tokens},
        )
        ev("message_stop")

        self.start_stream(h, "text/event-stream; charset=utf-8")
        for n, (kind, data) in enumerate(events):
            if reply.cut_after is not None and n >= reply.cut_after:
                return  # the server closes the socket: the stream ends without message_stop
            self.write(h, f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode(), reply.chunk_delay if n else 0.0)
