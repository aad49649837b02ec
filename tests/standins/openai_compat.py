"""An OpenAI-compatible Chat Completions upstream: what LiteLLM reaches for `openai/<name>` with `api_base`
and `use_chat_completions_api: true` (the offline llama.cpp server speaks the same protocol)."""

from __future__ import annotations

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from .script import Recorded, Reply
from .server import StandIn

# OpenAI's own misspelling ("preceeding") is part of the message clients match on.
TOOL_WITHOUT_CALL = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
)
CALL_WITHOUT_TOOL = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
    "'tool_call_id'. The following tool_call_ids did not have response messages: {ids}"
)

# What OpenAI answers (400, code `context_length_exceeded`) when the conversation no longer fits the model; LiteLLM
# maps it to its ContextWindowExceededError.
CONTEXT_WINDOW_MESSAGE = (
    "This model's maximum context length is 8192 tokens. However, your messages resulted in {tokens} tokens. "
    "Please reduce the length of the messages."
)


def context_window_reply(tokens: int = 9731) -> Reply:
    """A scripted reply that refuses the request as too long for the model's context window."""
    return Reply(status=400, error_message=CONTEXT_WINDOW_MESSAGE.format(tokens=tokens))


_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


def openai_error(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error body for an HTTP status."""
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    if status == 400 and "maximum context length" in message:
        code = "context_length_exceeded"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def check_tool_messages(messages: list[dict[str, Any]]) -> tuple[str, str, str] | None:
    """OpenAI's pairing rule for tool messages: (rule, message, param) of the first breach, else None."""
    open_ids: list[str] = []  # tool_calls of the latest assistant message not yet answered
    open_at = -1
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in open_ids:
                return ("tool-answers-preceding-tool-call", TOOL_WITHOUT_CALL, f"messages.[{i}].role")
            open_ids.remove(call_id)
            continue
        if open_ids:
            return (
                "tool-calls-answered",
                CALL_WITHOUT_TOOL.format(ids=", ".join(open_ids)),
                f"messages.[{open_at}].role",
            )
        open_ids = [c.get("id") for c in msg.get("tool_calls") or []] if role == "assistant" else []
        open_at = i
    return None


def user_text(messages: list[dict[str, Any]]) -> str:
    """The words of the request's user messages (where a test puts its fault markers)."""
    words: list[str] = []
    for msg in messages:
        if msg.get("role") != "user":
            continue
        content = msg.get("content")
        parts = content if isinstance(content, list) else [{"text": content}]
        words += [str(p.get("text") or "") for p in parts if isinstance(p, dict)]
    return "\n".join(words)


class OpenAIChatStandIn(StandIn):
    """`POST /v1/chat/completions` (streaming and not) and `GET /v1/models`, strict about tool messages.

    `api_key`: when set, requests must carry `Authorization: Bearer <api_key>` (401 otherwise).
    `models`: the ids listed by `/v1/models`.
    """

    name = "openai-compat-stand-in"

    def __init__(self, api_key: str | None = None, models: tuple[str, ...] = ("fake-model",)) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = models

    def handle(self, req: Recorded, h: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0].rstrip("/")
        if self.api_key is not None and req.header("authorization") != f"Bearer {self.api_key}":
            self.reject(h, 401, openai_error(401, "Incorrect API key provided."), "api-key")
            return
        if req.method == "GET" and path.endswith("/models"):
            now = int(time.time())
            data = [{"id": m, "object": "model", "created": now, "owned_by": "stand-in"} for m in self.models]
            self.send_json(h, 200, {"object": "list", "data": data})
            return
        if req.method != "POST" or not path.endswith("/chat/completions"):
            self.send_json(h, 404, openai_error(404, f"Unknown path {path}"))
            return
        body = req.body if isinstance(req.body, dict) else {}
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self.reject(
                h, 400, openai_error(400, "Missing required parameter: 'messages'.", "messages"), "messages-required"
            )
            return
        breach = check_tool_messages(messages)
        if breach is not None:
            rule, message, param = breach
            self.reject(h, 400, openai_error(400, message, param), rule)
            return

        reply = self.next_reply().capped(body.get("max_completion_tokens") or body.get("max_tokens"))
        reply = self.faults.apply(reply, user_text(messages), after_tool=messages[-1].get("role") == "tool")
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self.send_json(h, reply.status, openai_error(reply.status, reply.error_message))
            return
        model = str(body.get("model") or "fake-model")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(h, reply, model, include_usage)
        else:
            self.send_json(h, 200, self._completion(reply, model))

    # -- rendering ------------------------------------------------------------------------------
    @staticmethod
    def _usage(reply: Reply) -> dict[str, Any]:
        return {
            "prompt_tokens": reply.scripted_input(),
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.scripted_input() + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        }

    @staticmethod
    def _finish_reason(reply: Reply) -> str:
        if reply.stop == "length":
            return "length"
        return "tool_calls" if reply.tool_calls else "stop"

    def _completion(self, reply: Reply, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.thinking:
            message["reasoning_content"] = reply.thinking
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                for c in reply.tool_calls
            ]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish_reason(reply)}
            ],
            "usage": self._usage(reply),
        }

    def _stream(self, h: BaseHTTPRequestHandler, reply: Reply, model: str, include_usage: bool) -> None:
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                out["usage"] = None  # OpenAI sends null usage on every chunk but the last
            return out

        events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""})]
        if reply.thinking:
            events += [
                chunk({"reasoning_content": p}) for p in Reply(text=reply.thinking, chunks=reply.chunks).text_pieces()
            ]
        events += [chunk({"content": p}) for p in reply.text_pieces()]
        for index, call in enumerate(reply.tool_calls):
            args = json.dumps(call.arguments)
            half = len(args) // 2
            first = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(chunk({"tool_calls": [first]}))
            for piece in (args[:half], args[half:]):
                events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        events.append(chunk({}, self._finish_reason(reply)))
        if include_usage:
            last = chunk({})
            last["choices"] = []
            last["usage"] = self._usage(reply)
            events.append(last)

        self.start_stream(h, "text/event-stream; charset=utf-8", chunked=True)
        for n, event in enumerate(events):
            if reply.cut_after is not None and n >= reply.cut_after:
                return  # the server closes the socket: no [DONE], and the chunked body is never completed
            self.write(h, self.chunk(f"data: {json.dumps(event)}\n\n".encode()), self.pieces_paused(reply, n))
        self.write(h, self.chunk(b"data: [DONE]\n\n") + self.chunk(b""))
