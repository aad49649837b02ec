"""One turn: the user's text → the agent's streamed answer → renderer and store.

A failed or interrupted turn rolls the session back to where it was, so the next try sends the text once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..store.sqlite import Store, TurnRecord
from .render import Renderer

MAX_TOOL_ROUNDS = 12
TEXT_EVENTS = {"response.output_text.delta"}
REASONING_EVENTS = {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}


@dataclass(frozen=True)
class TurnRequest:
    session_id: str
    text: str
    model: str
    base_url: str
    api_key: str | None
    timeout: float
    max_retries: int
    reasoning: str | None = None
    use_tools: bool = True
    mcp_specs: list[Any] = field(default_factory=list)


def _on_event(event: Any, renderer: Renderer) -> None:
    from ..tools.display import describe_call, describe_result

    if event.type == "raw_response_event":
        kind = getattr(event.data, "type", "")
        if kind in TEXT_EVENTS:
            renderer.text(event.data.delta)
        elif kind in REASONING_EVENTS:
            renderer.reasoning(event.data.delta)
    elif event.type == "run_item_stream_event":
        if event.name == "tool_called":
            raw = event.item.raw_item
            name = getattr(raw, "name", None) or (raw.get("name") if isinstance(raw, dict) else None) or "tool"
            arguments = getattr(raw, "arguments", None) or (raw.get("arguments") if isinstance(raw, dict) else "")
            renderer.tool_call(describe_call(str(name), str(arguments or "")))
        elif event.name == "tool_output":
            renderer.tool_result(describe_result(event.item.output))


def _record(request: TurnRequest, usage: Any, receipts: Any, cost: float | None, started: float) -> TurnRecord:
    return TurnRecord(
        model=request.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=getattr(usage.output_tokens_details, "reasoning_tokens", 0) or 0,
        cached_tokens=getattr(usage.input_tokens_details, "cached_tokens", 0) or 0,
        cost=cost,
        request_ids=tuple(receipts.request_ids),
        duration_ms=int((time.monotonic() - started) * 1000),
    )


async def run_turn(request: TurnRequest, store: Store, renderer: Renderer) -> TurnRecord:
    from agents import Runner

    from ..tools import builtin_tools
    from ..tools.mcp import connected_mcp_servers
    from .agent import (
        ProxyReceipts,
        build_agent,
        make_client,
        make_http_client,
        model_settings,
        reported_cost,
        run_config,
    )

    started = time.monotonic()
    receipts = ProxyReceipts()
    http_client = make_http_client(receipts)
    client = make_client(request.base_url, request.api_key, request.timeout, request.max_retries, http_client)
    session = store.sdk_session(request.session_id)
    mark = store.message_mark(request.session_id)
    try:
        async with connected_mcp_servers(request.mcp_specs, lambda line: renderer.notice(line, "yellow")) as servers:
            agent = build_agent(
                request.model,
                client,
                model_settings(request.session_id, request.reasoning),
                builtin_tools() if request.use_tools else [],
                servers if request.use_tools else [],
            )
            result = Runner.run_streamed(
                agent, request.text, session=session, run_config=run_config(), max_turns=MAX_TOOL_ROUNDS
            )
            async for event in result.stream_events():
                _on_event(event, renderer)
        renderer.finish()
        usage = result.context_wrapper.usage
        cost = reported_cost(result.raw_responses)
    except BaseException:
        # Also on Ctrl-C (cancellation): the SDK saved the user's message before the model answered.
        renderer.finish()
        store.rollback_to(request.session_id, mark)
        raise
    finally:
        session.close()
        await client.close()
    return _record(request, usage, receipts, cost, started)
