"""Each streamed model call of a turn, watched as it arrives: what breaks off becomes one `StreamCut` the engine can
retry (engine.py, stream_retry.py), whatever the way it broke:

- the connection to the proxy drops mid-stream (httpx's read error, wrapped by openai as `APIConnectionError`);
- the proxy reports the upstream failed mid-answer: LiteLLM 1.106.2 sends the text so far, then `response.failed`
  (`server_error`, "litellm.APIConnectionError … payload is not completed");
- the stream ends without `response.completed`;
- nothing arrives for `idle_timeout` seconds (LiteLLM's keep-alive pings, `{"type": "ping"}`, do not count and are
  not passed on: neither openai nor the Agents SDK knows the type).

A `response.incomplete` because the answer reached its output limit is not a failure: it is passed on as the
`response.completed` the SDK expects, and `stop_reason` says "length" (an answer cut by the limit is an answer).

`KAIWA_TIMEOUT` is the client's per-read timeout, untouched here: a stream that keeps sending is never cut by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from agents import OpenAIResponsesModel

# What a `response.failed` says when the upstream's connection broke rather than the cloud refusing the request.
_CONNECTION_WORDS = re.compile(r"APIConnectionError|payload is not completed|connection|disconnect|timed? ?out", re.I)
# Codes that are the cloud's answer, not a broken stream: never retried as cuts.
_ANSWER_CODES = frozenset({"rate_limit_exceeded", "invalid_request_error", "bad_request", "context_length_exceeded"})
_OUTPUT_EVENTS = ("response.output_text.delta", "response.reasoning", "response.function_call_arguments.delta")
_KEEPALIVES = frozenset({"ping", "keepalive", "keep_alive"})
_TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete", "error", "response.error"})


class StreamCut(Exception):
    """A model call's stream broke off before its answer was complete. `reason`: what happened, in words."""

    def __init__(self, reason: str, *, stalled: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stalled = stalled


@dataclass
class StreamWatch:
    """One turn's watch over its model calls: the idle limit, and how the last call ended."""

    idle_timeout: float
    stop_reason: str | None = None  # "length": the last answer stopped at its output limit

    async def follow(self, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """`events` (the SDK's stream of one model call), with what breaks off raised as `StreamCut`."""
        loop = asyncio.get_running_loop()
        self.stop_reason = None
        deadline = loop.time() + self.idle_timeout
        output_seen = False
        iterator = aiter(events)
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        event = await anext(iterator)
                except StopAsyncIteration:
                    raise StreamCut("the stream ended before the answer was complete") from None
                except TimeoutError:
                    raise StreamCut(f"nothing arrived for {self.idle_timeout:g} s", stalled=True) from None
                except Exception as exc:
                    if (cut := _connection_cut(exc)) is not None:
                        raise cut from exc
                    raise
                kind = str(getattr(event, "type", "") or "")
                if kind in _KEEPALIVES:
                    continue  # proof the proxy is there, not that the answer moves
                deadline = loop.time() + self.idle_timeout
                output_seen = output_seen or kind.startswith(_OUTPUT_EVENTS)
                if kind == "response.failed" and (cut := _failed_as_cut(event, output_seen)) is not None:
                    raise cut
                if kind == "response.incomplete" and _reached_limit(event):
                    self.stop_reason = "length"
                    yield _as_completed(event)
                    return
                yield event
                if kind in _TERMINAL:
                    return
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):  # a broken stream may fail to close: it is dropped anyway
                    await aclose()


class WatchedResponsesModel(OpenAIResponsesModel):
    """The SDK's Responses model, its streamed calls followed by a `StreamWatch`."""

    def __init__(self, model: str, openai_client: Any, watch: StreamWatch) -> None:
        super().__init__(model=model, openai_client=openai_client)
        self.watch = watch

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        async for event in self.watch.follow(super().stream_response(*args, **kwargs)):
            yield event


def _connection_cut(exc: BaseException) -> StreamCut | None:
    """A connection that broke once the request was under way (not one that never connected: that is the proxy
    being unreachable, and the client's own retries are for it)."""
    import openai

    if not isinstance(exc, openai.APIConnectionError) or isinstance(exc, openai.APITimeoutError):
        return None
    cause = exc.__cause__ or exc.__context__
    if cause is None or "connect" in type(cause).__name__.lower() or "refused" in str(cause):
        return None
    return StreamCut(f"the connection to the proxy broke off ({type(cause).__name__})")


def _failed_as_cut(event: Any, output_seen: bool) -> StreamCut | None:
    error = getattr(getattr(event, "response", None), "error", None)
    code = str(getattr(error, "code", "") or "")
    message = str(getattr(error, "message", "") or "")
    if code in _ANSWER_CODES:
        return None
    if output_seen or _CONNECTION_WORDS.search(message):
        # LiteLLM's words end with the upstream's own ("… OpenAIException - Response payload is not completed: …")
        words = message.split(" - ", 1)[-1].split(":", 1)[0].strip()[:120] or code or "no reason given"
        return StreamCut(f"the upstream broke off: {words}")
    return None


def _reached_limit(event: Any) -> bool:
    details = getattr(getattr(event, "response", None), "incomplete_details", None)
    return str(getattr(details, "reason", "") or "") in ("max_output_tokens", "length", "max_tokens")


def _as_completed(event: Any) -> Any:
    from openai.types.responses import ResponseCompletedEvent

    return ResponseCompletedEvent.model_construct(
        type="response.completed", response=event.response, sequence_number=getattr(event, "sequence_number", 0)
    )
