"""An OpenAI Responses API endpoint (`POST /v1/responses`, streamed): what kaiwa itself sends, recorded exactly.

Used where the test is about kaiwa's own request (the wire before/after a change, the cost of long histories),
so no proxy sits between. Renders the same protocol-neutral `Reply` scripts as the cloud stand-ins: reasoning
(summary text + `encrypted_content` = the reply's signature), function calls, text. Ids are numbered per
stand-in (`reset()` restarts them), so two runs of the same script get the same answers byte for byte.
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from .script import Recorded, Reply
from .server import StandIn


class ResponsesStandIn(StandIn):
    """`POST /v1/responses` with `stream: true`. `keep_bodies=False` records only each body's size (`sizes`), for
    requests of megabytes."""

    name = "responses-stand-in"

    def __init__(self, keep_bodies: bool = True) -> None:
        super().__init__()
        self.keep_bodies = keep_bodies
        self.sizes: list[int] = []
        self._n = 0

    def reset(self) -> None:
        super().reset()
        self.sizes.clear()
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_standin{self._n:04d}"

    def handle(self, req: Recorded, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.sizes.append(len(req.raw))
            if not self.keep_bodies:
                self.requests.clear()
        body = req.body if isinstance(req.body, dict) else {}
        reply = self.next_reply()
        if reply.status != 200:
            kind = "server_error" if reply.status >= 500 else "invalid_request_error"
            self.send_json(h, reply.status, {"error": {"message": reply.error_message, "type": kind}})
            return
        self.start_stream(h, "text/event-stream")
        self.write(h, b"".join(self.events(reply, str(body.get("model", "model")))))

    def events(self, reply: Reply, model: str) -> list[bytes]:
        seq = iter(range(1_000_000))
        out: list[bytes] = []

        def ev(kind: str, **data: Any) -> None:
            payload = {"type": kind, **data, "sequence_number": next(seq)}
            out.append(f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode())

        response: dict[str, Any] = {
            "id": self._id("resp"),
            "object": "response",
            "created_at": int(time.time()),
            "model": model,
            "status": "in_progress",
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        }
        ev("response.created", response=response)
        items: list[dict[str, Any]] = []
        if reply.thinking is not None:
            item = {
                "id": self._id("rs"),
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": reply.thinking}],
                "encrypted_content": reply.signature or "enc",
            }
            index = len(items)
            ev("response.output_item.added", output_index=index, item={**item, "summary": []})
            part = {"type": "summary_text", "text": ""}
            ev(
                "response.reasoning_summary_part.added",
                item_id=item["id"],
                output_index=index,
                summary_index=0,
                part=part,
            )
            ev(
                "response.reasoning_summary_text.delta",
                item_id=item["id"],
                output_index=index,
                summary_index=0,
                delta=reply.thinking,
            )
            ev("response.output_item.done", output_index=index, item=item)
            items.append(item)
        for call in reply.tool_calls:
            item = {
                "id": self._id("fc"),
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
                "status": "completed",
            }
            index = len(items)
            ev("response.output_item.added", output_index=index, item={**item, "arguments": ""})
            ev(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=index,
                delta=item["arguments"],
            )
            ev("response.output_item.done", output_index=index, item=item)
            items.append(item)
        if reply.text:
            mid = self._id("msg")
            index = len(items)
            ev(
                "response.output_item.added",
                output_index=index,
                item={"id": mid, "type": "message", "role": "assistant", "status": "in_progress", "content": []},
            )
            for piece in reply.text_pieces():
                ev("response.output_text.delta", item_id=mid, output_index=index, content_index=0, delta=piece)
            item = {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }
            ev("response.output_item.done", output_index=index, item=item)
            items.append(item)
        usage = {
            "input_tokens": reply.scripted_input(),
            "output_tokens": reply.output_tokens,
            "total_tokens": reply.scripted_input() + reply.output_tokens,
            "input_tokens_details": {"cached_tokens": reply.cached_tokens},
            "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        }
        ev("response.completed", response={**response, "status": "completed", "output": items, "usage": usage})
        return out
