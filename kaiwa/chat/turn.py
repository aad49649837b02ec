"""A conversation with the agent: `ChatEngine` sets up once what every turn needs (the HTTP pool, the openai
client, the MCP servers) and runs turns: the user's input → the agent's streamed answer → renderer and store.

A turn is atomic (see `turn_buffer.py`): its items are committed with its usage record in one transaction at its
end, under the session's lock, so a failed, cancelled or killed turn leaves nothing behind.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from ..store.base import Item, Store, TurnRecord, make_title
from .render import Renderer

MAX_TOOL_ROUNDS = 12
TEXT_EVENTS = {"response.output_text.delta"}
REASONING_EVENTS = {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}


@dataclass(frozen=True)
class EngineConfig:
    """What stays the same for every turn of a process (one-shot) or of a REPL."""

    base_url: str
    api_key: str | None
    timeout: float
    max_retries: int
    use_tools: bool = True
    mcp_specs: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class TurnOptions:
    """What may change from one turn to the next (the REPL's /model, /reasoning, /system)."""

    model: str
    reasoning: str | None = None
    instructions: str | None = None  # None: kaiwa's default instructions
    temperature: float | None = None
    max_output_tokens: int | None = None
    output_type: Any = None  # an SDK AgentOutputSchemaBase (--schema): the answer is JSON in text.format


@dataclass(frozen=True)
class TurnResult:
    record: TurnRecord
    answer: str
    final_output: Any = None


def _field(raw: Any, name: str) -> Any:
    return getattr(raw, name, None) or (raw.get(name) if isinstance(raw, dict) else None)


def _on_event(event: Any, renderer: Renderer, tool_names: dict[str, str]) -> None:
    """`tool_names`: call id → tool name for this turn (a tool's output names only its call)."""
    if event.type == "raw_response_event":
        kind = getattr(event.data, "type", "")
        if kind in TEXT_EVENTS:
            renderer.text(event.data.delta)
        elif kind in REASONING_EVENTS:
            renderer.reasoning(event.data.delta)
    elif event.type == "run_item_stream_event":
        if event.name == "tool_called":
            raw = event.item.raw_item
            name = str(_field(raw, "name") or "tool")
            tool_names[str(_field(raw, "call_id"))] = name
            renderer.tool_called(name, str(_field(raw, "arguments") or ""))
        elif event.name == "tool_output":
            name = tool_names.get(str(_field(event.item.raw_item, "call_id")), "tool")
            renderer.tool_returned(name, event.item.output)


def _record(model: str, usage: Any, request_ids: list[str], cost: float | None, started: float) -> TurnRecord:
    return TurnRecord(
        model=model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=getattr(usage.output_tokens_details, "reasoning_tokens", 0) or 0,
        cached_tokens=getattr(usage.input_tokens_details, "cached_tokens", 0) or 0,
        cost=cost,
        request_ids=tuple(request_ids),
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def _text_of(user_input: str | list[Item]) -> str:
    """The user's words in a turn's input (for the session's title)."""
    if isinstance(user_input, str):
        return user_input
    for item in user_input:
        content = item.get("content")
        if isinstance(content, str):
            return content
        for part in content or []:
            if isinstance(part, dict) and part.get("type") == "input_text":
                return str(part.get("text", ""))
    return ""


class ChatEngine:
    """`async with ChatEngine(config, warn) as engine: await engine.run_turn(...)`; MCP servers are connected on
    entry and stopped on every way out."""

    def __init__(self, config: EngineConfig, warn: Any = None) -> None:
        self.config = config
        self._warn = warn or (lambda line: None)
        self._stack = AsyncExitStack()
        self.mcp_servers: list[Any] = []

    async def __aenter__(self) -> ChatEngine:
        from .agent import ProxyReceipts, make_client, make_http_client

        self.receipts = ProxyReceipts()
        http_client = make_http_client(self.receipts)
        self.client = make_client(
            self.config.base_url, self.config.api_key, self.config.timeout, self.config.max_retries, http_client
        )
        self._stack.push_async_callback(self.client.close)
        if self.config.use_tools:
            from ..tools.mcp import connected_mcp_servers

            self.mcp_servers = await self._stack.enter_async_context(
                connected_mcp_servers(self.config.mcp_specs, self._warn)
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def tools(self) -> list[Any]:
        from ..tools import builtin_tools

        return builtin_tools() if self.config.use_tools else []

    async def run_turn(
        self,
        store: Store,
        session_id: str,
        user_input: str | list[Item],
        options: TurnOptions,
        renderer: Renderer,
        *,
        title: str | None = None,
        replace_from: int | None = None,
        on_wait: Any = None,
    ) -> TurnResult:
        """One turn under the session's lock; committed only when the answer is complete."""
        from agents import Runner

        from .agent import build_agent, model_settings, reported_cost, run_config
        from .flat_input import TurnOnlyBuffer, history_sent_first, load_history, slow_history
        from .turn_buffer import TurnBuffer

        started = time.monotonic()
        self.receipts.request_ids.clear()
        async with store.lock(session_id, on_wait):
            stored = store.sdk_session(session_id)
            # Flat cost in history length (flat_input.py): the client sends the stored history in front of what
            # the Runner prepares, which is only this turn's items.
            slow = slow_history()
            buffer = (TurnBuffer if slow else TurnOnlyBuffer)(stored, keep=replace_from)
            try:
                history = [] if slow else await load_history(store, stored, session_id, keep=replace_from)
                agent = build_agent(
                    options.model,
                    self.client,
                    model_settings(session_id, options.reasoning, options.temperature, options.max_output_tokens),
                    self.tools(),
                    self.mcp_servers if self.config.use_tools else [],
                    instructions=options.instructions,
                    output_type=options.output_type,
                )
                tool_names: dict[str, str] = {}
                with history_sent_first(history):
                    result = Runner.run_streamed(
                        agent,
                        user_input,  # type: ignore[arg-type]  # plain JSON items, as the SDK stores them
                        session=buffer,
                        run_config=run_config(),
                        max_turns=MAX_TOOL_ROUNDS,
                    )
                    async for event in result.stream_events():
                        _on_event(event, renderer, tool_names)
            finally:
                renderer.finish()  # also on Ctrl-C: the partial answer stays visible; nothing of it is stored
                close = getattr(stored, "close", None)
                if close is not None:
                    close()
            usage = result.context_wrapper.usage
            record = _record(
                options.model, usage, self.receipts.request_ids, reported_cost(result.raw_responses), started
            )
            await store.commit_turn(
                session_id,
                buffer.pending,
                record,
                title=title or make_title(_text_of(user_input)),
                instructions=options.instructions,
                replace_from=replace_from,
            )
        return TurnResult(record=record, answer=renderer.answer, final_output=result.final_output)
