"""The turn engine: `ChatEngine` sets up once what every turn needs (the HTTP pool, the openai client, the MCP
servers) and runs turns: the user's input → the agent's streamed answer → events for the face, items for the store.

A turn is atomic (see `turn_buffer.py`): its items are committed with its usage record in one transaction at its
end, under the session's lock, so a failed, cancelled or killed turn leaves nothing behind.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Literal

from ..store.base import Item, Store, TurnRecord, make_title
from ..tools.approval import ApprovalPolicy
from .events import (
    Emit,
    LockWaiting,
    Notice,
    ReasoningDelta,
    TextDelta,
    ToolCalled,
    ToolReturned,
    TurnCompleted,
    TurnRetrying,
)
from .history import first_text
from .options import EngineConfig, TurnOptions
from .spending import spender_of
from .views import ServerUnlisted, ToolInfo, Tools

if TYPE_CHECKING:
    from ..roles import Role
    from .events import Approver

MAX_TOOL_ROUNDS = 12
TEXT_EVENTS = {"response.output_text.delta"}
REASONING_EVENTS = {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}


def _field(raw: Any, name: str) -> Any:
    return getattr(raw, name, None) or (raw.get(name) if isinstance(raw, dict) else None)


class _TurnEvents:
    """The SDK's stream events → kaiwa's events; keeps the answer's text (the engine never reads it back from a
    face) and each call's tool name (a tool's output names only its call). What the model call in progress has
    streamed is void if its stream breaks off: `rewind()` drops it from the answer."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.answer: list[str] = []
        self.tool_names: dict[str, str] = {}
        self._kept = 0  # deltas of `answer` from completed model calls
        self.streamed = False  # the call in progress has streamed text or reasoning
        self.text_streamed = False  # … text

    def on(self, event: Any) -> None:
        if event.type == "raw_response_event":
            kind = getattr(event.data, "type", "")
            if kind in TEXT_EVENTS:
                if event.data.delta:
                    self.answer.append(event.data.delta)
                    self.streamed = self.text_streamed = True
                    self.emit(TextDelta(event.data.delta))
            elif kind in REASONING_EVENTS and event.data.delta:
                self.streamed = True
                self.emit(ReasoningDelta(event.data.delta))
            elif kind == "response.completed":
                self._kept = len(self.answer)
                self.streamed = self.text_streamed = False
        elif event.type == "run_item_stream_event":
            raw = event.item.raw_item
            call_id = str(_field(raw, "call_id") or "")
            if event.name == "tool_called":
                name = str(_field(raw, "name") or "tool")
                self.tool_names[call_id] = name
                self.emit(ToolCalled(name, str(_field(raw, "arguments") or ""), call_id))
            elif event.name == "tool_output":
                self.emit(ToolReturned(self.tool_names.get(call_id, "tool"), event.item.output, call_id))

    def rewind(self) -> None:
        """Forget what the broken call streamed."""
        del self.answer[self._kept :]
        self.streamed = self.text_streamed = False


def usage_record(
    model: str,
    usage: Any,
    request_ids: list[str],
    cost: float | None,
    started: float,
    cache_write_tokens: int = 0,
    spender: str = "",
) -> TurnRecord:
    """A turn's (or a compaction's) record from the SDK's usage object."""
    return TurnRecord(
        model=model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=getattr(usage.output_tokens_details, "reasoning_tokens", 0) or 0,
        cached_tokens=getattr(usage.input_tokens_details, "cached_tokens", 0) or 0,
        cache_write_tokens=cache_write_tokens,
        cost=cost,
        request_ids=tuple(request_ids),
        duration_ms=int((time.monotonic() - started) * 1000),
        spender=spender,
    )


class ChatEngine:
    """`async with ChatEngine(config, emit) as engine: await engine.run_turn(...)`; MCP servers are connected on
    entry and stopped on every way out."""

    def __init__(self, config: EngineConfig, emit: Emit) -> None:
        self.config = config
        self._emit = emit
        self._stack = AsyncExitStack()
        self.mcp_servers: list[Any] = []
        self._tools: list[Any] | None = None
        self.spender = spender_of(config.api_key)  # recorded with each turn: whose key paid
        # Which MCP calls run, ask or are declined; for the whole process (a REPL's `a` answers add to it).
        self.policy = ApprovalPolicy({spec.name: spec.approval for spec in config.mcp_specs}, config.approve)

    async def __aenter__(self) -> ChatEngine:
        from .agent import ProxyReceipts, make_client, make_http_client
        from .controls import ControlFitter

        self.controls = ControlFitter(self.config.base_url, self.config.api_key)
        self.receipts = ProxyReceipts()
        http_client = make_http_client(self.receipts)
        self.client = make_client(
            self.config.base_url, self.config.api_key, self.config.timeout, self.config.max_retries, http_client
        )
        self._stack.push_async_callback(self.client.close)
        if self.config.use_tools:
            from ..tools.mcp import connected_mcp_servers

            self.mcp_servers = await self._stack.enter_async_context(
                connected_mcp_servers(
                    self.config.mcp_specs,
                    lambda line: self._emit(Notice(line, "warning")),
                    policy=self.policy,
                    reserved=[tool.name for tool in self.tools()],
                )
            )
            await self._check_approve_names()
        return self

    async def _check_approve_names(self) -> None:
        """An --approve name that matches no tool allows nothing: most likely a typo, so say so."""
        if not [name for name in self.config.approve if name != "all"]:
            return
        tools: dict[str, list[str]] = {}
        for server in self.mcp_servers:
            try:
                tools[server.name] = [tool.name for tool in await server.list_tools()]  # cached for the turns
            except Exception:
                return  # the turn that needs the list will report the server's failure
        for name in self.policy.unmatched(tools):
            self._emit(Notice(f"--approve {name}: no connected MCP server has such a tool", "warning"))

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def describe_tools(self, role: Role | None) -> Tools:
        """The tools of the next turn and what a call of each will do, as plain data (`views.Tools`)."""
        if not self.config.use_tools:
            by_role = role.name if role is not None and not role.settings.tools else None
            return Tools(enabled=False, off_by_role=by_role)
        from ..tools.mcp import read_only_hint

        entries: list[ToolInfo | ServerUnlisted] = [
            ToolInfo(tool.name, "", "run", "", tool.description or "") for tool in self.tools()
        ]
        for server in self.mcp_servers:
            try:
                listed = await server.list_tools()
            except Exception as exc:  # noqa: BLE001 - a broken server is an entry, not the end of the question
                entries.append(ServerUnlisted(server.name, type(exc).__name__))
                continue
            for tool in listed:
                rule = self.policy.verdict(server.name, tool.name, read_only_hint(tool))
                why = "" if rule.action == "ask" else rule.why
                entries.append(ToolInfo(tool.name, server.name, rule.action, why, tool.description or ""))
        return Tools(enabled=True, entries=tuple(entries))

    def tools(self) -> list[Any]:
        """The built-in tools, made once per engine: their schemas cost ~2 ms of pydantic work to build."""
        if self._tools is None:
            from ..tools import builtin_tools

            self._tools = builtin_tools() if self.config.use_tools else []
        return self._tools

    async def run_turn(
        self,
        store: Store,
        session_id: str,
        user_input: str | list[Item],
        options: TurnOptions,
        emit: Emit,
        *,
        title: str | None = None,
        replace_from: int | None = None,
        approver: Approver | None = None,
        redo_text: bool = True,
        resume: tuple[list[Item], TurnRecord] | None = None,
    ) -> TurnCompleted:
        """One turn under the session's lock; committed only when the answer is complete. Raises `TurnBroke` on
        failure (its cause: `failures.explain` makes the line), and on cancellation: nothing is stored then —
        except the tools that already ran, kept as a failed turn (see stream_retry.py). `approver`: asks the user
        about a tool call that needs approval (None: no one to ask, such calls are declined). `redo_text` False:
        text already streamed cannot be taken back, so a stream cut after it is not retried. `resume`: a failed
        turn's items (from `replace_from` on) and record, continued rather than run again."""
        from .flat_input import TurnOnlyBuffer, history_sent_first, prepare_history, slow_history
        from .stream_retry import Attempts, TurnBroke
        from .stream_watch import StreamWatch
        from .turn_buffer import TurnBuffer

        started = time.monotonic()
        self.receipts.clear()
        events = _TurnEvents(emit)
        sent = await self.controls.fit(options, emit)
        async with store.lock(session_id, lambda: emit(LockWaiting(session_id))):
            stored = await store.items(session_id)
            if replace_from is not None:
                stored = stored[:replace_from]
            # Flat cost in history length (flat_input.py): the client sends the stored history in front of what
            # the Runner prepares, which is only this turn's items. KAIWA_SLOW_HISTORY=1: the Runner reads it all.
            slow = slow_history()
            buffer = TurnBuffer(session_id, stored) if slow else TurnOnlyBuffer(session_id, stored)
            history = [] if slow else prepare_history(stored)
            watch = StreamWatch(self.config.stream_idle_timeout)
            agent = self._agent(options, sent, session_id, watch)
            attempts = Attempts(self.config.stream_retries, redo_text)
            run_input: Any = user_input if resume is None else resume[0]  # plain JSON items, as the SDK stores them
            try:
                with history_sent_first(history):
                    result = await self._attempts(agent, run_input, buffer, events, attempts, approver, emit)
            except Exception as exc:
                kept = await self._keep_ran_tools(store, session_id, buffer, attempts, options, started, user_input,
                                                  title, replace_from, resume)  # fmt: skip
                raise TurnBroke(exc, sent=bool(self.receipts.request_ids), kept=kept) from exc
            record = self._record(options, attempts, started, "length" if watch.stop_reason else "", resume)
            try:
                await store.commit_turn(
                    session_id,
                    buffer.pending,
                    record,
                    title=title or make_title(first_text(user_input)),
                    instructions=options.instructions,
                    replace_from=replace_from,
                    role=options.role,
                )
            except Exception as exc:  # after the answer: it was sent and paid, only storing it failed
                from .failures import not_stored

                raise not_stored(exc, store) from exc
        return TurnCompleted(session_id, record, "".join(events.answer), result.final_output,
                             stop_reason="length" if watch.stop_reason else "stop")  # fmt: skip

    def _agent(self, options: TurnOptions, sent: Any, session_id: str, watch: Any) -> Any:
        from .agent import build_agent, model_settings

        return build_agent(
            options.model,
            self.client,
            model_settings(
                session_id,
                options.reasoning,
                options.temperature,
                options.max_output_tokens,
                verbosity=sent.verbosity,
                service_tier=sent.service_tier,
                prompt_cache=self.config.prompt_cache,
            ),
            self.tools(),
            self.mcp_servers if self.config.use_tools else [],
            instructions=options.instructions,
            output_type=options.output_type,
            watch=watch,
        )

    async def _attempts(
        self, agent: Any, run_input: Any, buffer: Any, events: _TurnEvents, attempts: Any, approver: Any, emit: Emit
    ) -> Any:
        """Run the turn, again from what it produced so far each time a stream breaks off (stream_retry.py)."""
        import asyncio

        from .stream_retry import complete_items, ran_tools
        from .stream_watch import StreamCut

        while True:
            attempts.begin()
            try:
                return await self._run(agent, run_input, buffer, events, attempts, approver, emit)
            except StreamCut as cut:
                attempts.check(cut, events.text_streamed)  # raises when it may not be tried again
                stage: Literal["before_output", "during_output"] = (
                    "during_output" if events.streamed else "before_output"
                )
                events.rewind()
                run_input = complete_items(buffer.pending)  # the message and every finished step, tools included
                buffer.pending = []
                emit(TurnRetrying(attempts.number + 1, attempts.most, cut.reason, stage, "".join(events.answer),
                                  ran_tools(run_input)))  # fmt: skip
                await asyncio.sleep(attempts.delay())  # Ctrl-C here cancels the turn as anywhere else

    async def _run(
        self, agent: Any, run_input: Any, buffer: Any, events: _TurnEvents, attempts: Any, approver: Any, emit: Emit
    ) -> Any:
        """One attempt: a Runner run, resumed after each batch of approvals."""
        from agents import Runner

        from .agent import run_config
        from .approvals import settle

        while True:
            result = Runner.run_streamed(
                agent, run_input, session=buffer, run_config=run_config(), max_turns=MAX_TOOL_ROUNDS
            )
            attempts.ran(result)
            async for event in result.stream_events():
                events.on(event)
            if not result.interruptions:
                return result
            # Calls wait for approval (core/approvals.py): decide them, then resume the same run. The turn's
            # items stay in `buffer` meanwhile; nothing is stored until the commit.
            run_input = await settle(result, self.policy, self.mcp_servers, approver, emit)

    def _record(
        self, options: TurnOptions, attempts: Any, started: float, outcome: str, resume: Any = None
    ) -> TurnRecord:
        from dataclasses import replace

        from .agent import reported_cache_writes, reported_cost
        from .stream_retry import merged_record

        raw = attempts.raw_responses()
        record = usage_record(options.model, attempts.usage(), self.receipts.request_ids, reported_cost(raw),
                              started, reported_cache_writes(raw), self.spender)  # fmt: skip
        record = replace(record, attempts=attempts.number, outcome=outcome)
        return record if resume is None else merged_record(resume[1], record)

    async def _keep_ran_tools(
        self, store: Store, session_id: str, buffer: Any, attempts: Any, options: TurnOptions, started: float,
        user_input: Any, title: str | None, replace_from: int | None, resume: Any,
    ) -> tuple[str, ...]:  # fmt: skip
        """A turn that failed after tools ran keeps them: the message, the calls and their results are stored as a
        failed turn (what they did cannot be undone, and a retry continues from them). Returns their names."""
        from .stream_retry import complete_items, ran_tools

        kept = complete_items(buffer.pending)
        names = ran_tools(kept)
        if not names:
            return ()
        await store.commit_turn(
            session_id,
            kept,
            self._record(options, attempts, started, "failed", resume),
            title=title or make_title(first_text(user_input)),
            instructions=options.instructions,
            replace_from=replace_from,
            role=options.role,
        )
        return names
