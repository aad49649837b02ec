"""A conversation: the only way a face reaches the core. `opening.open_conversation(settings, setup, emit)` builds
it whole (the store opened, the session and role picked, the proxy found); its engine (the Agents SDK, the HTTP
pool, the MCP servers) starts on `start()` or the first turn, so a face can greet the user before that cost.

Faces call its methods and ask it questions (`tools()`, `usage()`, `aliases()`, the properties), and get plain
data back (`core/views.py`, the store's `SessionInfo`/`TurnRecord`, `TurnOptions`); no SDK, store or gateway object
leaves it. None of it prints: a turn reports through the `emit` the face passes — its events, then `TurnCompleted`
or `TurnFailed` (also returned); what happens outside a turn goes to the `emit` given at opening.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ..errors import KaiwaError
from ..settings import Settings
from ..store.base import Item, SessionInfo, Store, TurnRecord
from . import copies
from .budget import SETTING, Caps
from .choices import Choices
from .context import Meter
from .events import Emit, Notice, TurnCompleted, TurnFailed
from .history import first_text, item_text, last_user_index
from .options import EngineConfig, Setup, TurnOptions
from .spending import Spending
from .views import AsText, Compacted, ContextParts, ContextUse, SessionUsage, Tools

__all__ = ["Conversation"]

if TYPE_CHECKING:
    from ..gateway.endpoint import Endpoint
    from ..gateway.proxy_info import Limits
    from ..roles import Role
    from .engine import ChatEngine
    from .events import Approver
    from .schema import AnswerSchema
    from .usage_report import UsageReport


class Conversation:
    """One session at a time (a new one, or a stored one), the choices its next turn is sent with, and the engine
    that sends it. `approver`: the face's question for a tool call that needs approval (None: no one to ask, such
    calls are declined)."""

    def __init__(
        self, settings: Settings, setup: Setup, store: Store, endpoint: Endpoint, config: EngineConfig, emit: Emit,
        approver: Approver | None = None, *, mcp: tuple[list[Any], str] = ([], "the MCP config"),
        schema: AnswerSchema | None = None, session: SessionInfo | None = None, last_answer: str = "",
        role: Role | None = None,
    ) -> None:  # fmt: skip
        """`mcp`: every configured MCP server and where they are configured (a role may pick some); `schema`:
        --schema, loaded; `session`: a stored session to continue (None: a new one) and its `last_answer`; `role`:
        -r NAME, or the role the session remembers."""
        self._settings = settings
        self._store = store
        self._endpoint = endpoint
        self._choices = Choices(settings, setup, config, *mcp, output_type=schema.output_type() if schema else None)
        self._emit = emit  # for what happens outside a turn (an MCP server that will not start)
        self._approver = approver
        self._schema = schema
        # False when the face cannot take back text it has shown (plain text into a pipe): a stream cut after
        # text went out is then not retried (stream_retry.py).
        self._redo_text = setup.redo_text
        self._engine: ChatEngine | None = None
        self._spending = Spending(store, endpoint.base_url, endpoint.api_key)
        self._meter = Meter(self._limits, settings.context_window)
        self._metered = ""  # the session the meter's count is for ("" : read it from the store first)
        self.session_id = ""
        self.info: SessionInfo | None = None  # None until the session's first turn is stored
        self.last_answer = ""
        if session is None:
            self.new(setup.instructions)
        else:
            self._move_to(session, last_answer)
            if setup.instructions is not None:  # replaces the resumed session's, stored with the next turn
                self._choices.set_instructions(setup.instructions)
        # -r NAME: its instructions too; the role a resumed session remembers: its settings, not its instructions
        self._choices.use_role(role, setup.given, keep_instructions=setup.role is None)

    # -- what the next turn is sent with --------------------------------------------------------------
    @property
    def options(self) -> TurnOptions:
        return self._choices.options

    @property
    def model(self) -> str:
        return self._choices.options.model

    @property
    def instructions(self) -> str | None:
        return self._choices.options.instructions

    @property
    def role(self) -> Role | None:
        return self._choices.role

    @property
    def uses_tools(self) -> bool:
        return self._choices.config.use_tools

    @property
    def mcp_servers(self) -> tuple[str, ...]:
        """The names of the MCP servers the next turn connects."""
        return tuple(spec.name for spec in self._choices.config.mcp_specs)

    def set_model(self, model: str) -> None:
        self._choices.set_model(model)

    def set_reasoning(self, effort: str | None) -> None:
        self._choices.set_reasoning(effort)

    def set_verbosity(self, level: str | None) -> None:
        self._choices.set_verbosity(level)

    async def set_instructions(self, text: str | None) -> None:
        """This session's instructions (None: kaiwa's default); stored at once when the session is."""
        if self.info is not None:
            await self._store.set_instructions(self.session_id, text)
            self.info = await self._store.get_session(self.session_id)
        self._choices.set_instructions(text)

    async def use_role(
        self, role: Role | None, given: frozenset[str] = frozenset(), *, keep_instructions: bool = False
    ) -> None:
        """From the next turn on: `role`'s settings, instructions and tools (`Choices.use_role`)."""
        if self._choices.use_role(role, given, keep_instructions):
            await self.close()  # the next turn starts an engine with these tools and servers

    async def save_role(self) -> None:
        """Store the role and the instructions now (an existing session; a new one gets them with its turn)."""
        options = self._choices.options
        if self.info is not None and self.info.role != options.role:
            await self._store.set_role(self.session_id, options.role)
            self.info = dataclasses.replace(self.info, role=options.role)
        if self.info is not None and self.info.instructions != options.instructions:
            await self.set_instructions(options.instructions)

    # -- the engine ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the engine now (imports the SDK, connects the MCP servers); else the first turn does."""
        await self._started()

    async def _started(self) -> ChatEngine:
        if self._engine is None:
            from .engine import ChatEngine

            engine = ChatEngine(self._choices.config, self._emit)
            await engine.__aenter__()
            self._engine = engine
        return self._engine

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.__aexit__(None, None, None)

    def _forget_grants(self) -> None:
        if self._engine is not None:
            self._engine.policy.forget_grants()

    # -- questions -----------------------------------------------------------------------------------
    async def tools(self) -> Tools:
        """The tools the next turn offers the model, and what a call of each will do."""
        return await (await self._started()).describe_tools(self._choices.role)

    async def usage(self) -> SessionUsage:
        """The session's turns; with the proxy's prices when the session used the prompt cache."""
        turns = tuple(await self.turns())
        if not any(t.cached_tokens or t.cache_write_tokens for t in turns):
            return SessionUsage(turns)
        from ..gateway.proxy_info import model_prices

        prices = await asyncio.to_thread(model_prices, self._endpoint.base_url, self._endpoint.api_key)
        return SessionUsage(turns, prices)

    async def usage_report(self) -> UsageReport:
        """Spend today and this month, by model, against the caps, with this session's own figures."""
        from .usage_report import usage_report

        info = self.info
        session = ((info.cost or 0.0), info.turns) if info is not None else (0.0, 0)
        endpoint = self._endpoint
        return await usage_report(self._store, self._caps(), endpoint.base_url, endpoint.api_key, session)

    def _caps(self) -> Caps:
        """The spending caps this turn runs under: the settings', and a role's own session cap (the smaller
        one wins: a role can tighten a cap, never loosen it)."""
        settings, role = self._settings, self.role
        session, source = settings.max_cost_session, SETTING["session"]
        own = role.settings.max_cost_session if role is not None else None
        if own is not None and (session is None or own < session):
            session, source = own, f"the role {role.name!r}'s max_cost_session" if role else source
        return Caps(session, settings.max_cost_day, settings.max_cost_month, source)

    async def aliases(self) -> list[str]:
        """The proxy's model aliases ([] when it will not say)."""
        from .failures import proxy_aliases

        return await asyncio.to_thread(proxy_aliases, self._endpoint.base_url, self._endpoint.api_key)

    async def items(self) -> list[Item]:
        return await self._store.items(self.session_id) if self.info is not None else []

    async def turns(self) -> list[TurnRecord]:
        return await self._store.turns(self.session_id) if self.info is not None else []

    async def recent(self, limit: int = 50) -> list[SessionInfo]:
        return await self._store.list_sessions(limit)

    def explain(self, exc: BaseException) -> KaiwaError:
        """What went wrong, as the one line (`failures.explain` with this conversation's proxy and model)."""
        from .failures import explain

        return explain(exc, base_url=self._endpoint.base_url, api_key=self._endpoint.api_key, model=self.model,
                       timeout=self._settings.timeout, store=self._store)  # fmt: skip

    # -- sessions ------------------------------------------------------------------------------------
    def new(self, instructions: str | None = None) -> None:
        """A fresh session: stored with its first turn. Its instructions: `instructions`, else --system (every
        session the REPL starts, /new too), else the role's, else KAIWA_SYSTEM, else kaiwa's default."""
        from ..store.ids import new_session_id

        self.session_id = new_session_id()
        self.info = None
        self._forget_grants()
        self.last_answer = ""
        self._choices.set_instructions(self._choices.new_instructions(instructions))

    def _move_to(self, info: SessionInfo, last_answer: str) -> None:
        self.session_id = info.session_id
        self.info = info
        self.last_answer = last_answer
        self._choices.set_instructions(info.instructions)
        self._choices.continue_on(info.model)

    async def open(self, info: SessionInfo) -> None:
        from .history import last_answer

        self._move_to(info, last_answer(await self._store.items(info.session_id)))

    async def resume(self, ref: str) -> SessionInfo:
        """Another stored session, with the role it remembers."""
        from ..store.naming import resolve
        from .role_use import stored_role

        info = await resolve(self._store, ref)
        role = stored_role(info.role, lambda line: self._emit(Notice(line, "warning")))
        await self.open(info)
        self._forget_grants()  # `a` allowed a tool for the rest of the session it was given in
        await self.use_role(role, keep_instructions=True)
        return info

    async def refresh(self) -> str | None:
        """Re-read this session's figures: another process may have written to it (the REPL's toolbar counts
        stay right). If another process deleted it, the conversation goes on in a new session (never re-creating
        the deleted one with only the newest exchange): returns the deleted id then."""
        if self.info is None:
            return None
        fresh = await self._store.get_session(self.session_id)
        if fresh is not None:
            self.info = fresh
            return None
        gone = self.session_id
        self.new(self.instructions)
        return gone

    async def set_origin(self, origin: str) -> None:
        """Say where a stored session came from (an editor's: the folder it was opened in)."""
        if self.info is not None and self.info.origin != origin:
            await self._store.set_origin(self.session_id, origin)
            self.info = dataclasses.replace(self.info, origin=origin)

    async def context(self, new_message: str | list[Item] | None = None) -> ContextUse | None:
        """Where the context stands (the provider's last count against the model's window), with a local
        estimate of `new_message` added; None when the model's window is unknown."""
        from .estimate import input_tokens

        if self._metered != self.session_id:
            turns = await self.turns()
            self._meter.resumed(turns[-1] if turns else None)
            self._metered = self.session_id
        added = input_tokens(new_message) if new_message else 0
        return await asyncio.to_thread(self._meter.use, self.model, self.options.max_output_tokens, added)

    async def context_parts(self) -> ContextParts | None:
        """`/context`: the meter and what fills it (None: the model's window is unknown)."""
        from .context import breakdown

        use = await self.context()
        if use is None:
            return None
        return breakdown(use, self.instructions, await self.tools(), await self.items())

    def _limits(self) -> dict[str, Limits] | None:
        from ..gateway.proxy_info import model_limits

        return model_limits(self._endpoint.base_url, self._endpoint.api_key)

    def _unknown_window(self, emit: Emit) -> None:
        """Said once per model: no meter and no automatic compaction without a window."""
        if self.model not in self._meter.said_unknown:
            self._meter.said_unknown.add(self.model)
            emit(Notice(f"the proxy states no context window for {self.model}: no context meter and no automatic "
                        "compaction (set KAIWA_CONTEXT_WINDOW to give one)"))  # fmt: skip

    async def fork(self) -> SessionInfo:
        """Continue in a copy of the whole session; the original is untouched."""
        if self.info is None:
            raise KaiwaError("nothing to fork yet", "send a message first")
        info = await copies.fork(self._store, self.info)
        await self.open(info)
        return info

    async def compact(self, as_text: AsText, notice: Any) -> tuple[SessionInfo, Compacted]:
        """Continue in a new session that starts from a summary of this one."""
        if self.info is None:
            raise KaiwaError("nothing to compact yet", "send a message first")
        await self._copy_within_caps()
        info, compacted = await self._explained(copies.compact_copy(
            self._store, self.info, await self._started(), self.model, as_text, notice
        ))  # fmt: skip
        await self.open(info)
        return info, compacted

    async def summary_source(self) -> SessionInfo | None:
        """The session this one's last exchange summarises, when that exchange is its compaction."""
        from .compact import compacted_from

        if self.info is None or compacted_from(self.info.origin) is None:
            return None
        return await copies.summary_source(self._store, self.info, await self.last_exchange())

    async def resummarise(self, original: SessionInfo, as_text: AsText, notice: Any) -> Compacted:
        """The summary written again from `original`, replacing this session's compaction exchange."""
        info = self.info
        assert info is not None
        await self._copy_within_caps()
        compacted = await self._explained(copies.resummarise(
            self._store, info, original, await self._started(), self.model, as_text, notice
        ))  # fmt: skip
        await self.open(await self._store.get_session(self.session_id) or info)
        return compacted

    async def _copy_within_caps(self) -> None:
        """A compaction sends the whole conversation: refused, before it is sent, when that would pass the day or
        month cap (not the session cap: a new session is what it makes)."""
        caps = dataclasses.replace(self._caps(), session=None)
        refusal = (await self._spending.check(caps, self.model, self.info, "")).refusal
        if refusal is not None:
            raise KaiwaError(refusal.message(), refusal.hint(), kind="budget", model=self.model,
                             setting=refusal.setting)  # fmt: skip

    async def _explained[T](self, work: Awaitable[T]) -> T:
        try:
            return await work
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise self.explain(exc) from exc

    # -- turns ---------------------------------------------------------------------------------------
    async def send(
        self, user_input: str | list[Item], emit: Emit, *, replace_from: int | None = None
    ) -> TurnCompleted | TurnFailed:
        """One turn. Emits its events and returns how it ended; a cancelled turn raises CancelledError (nothing
        stored). A `--schema` answer that does not follow the schema is stored, and fails as `bad_answer`."""
        from .failures import as_event

        if self._endpoint.managed:
            from ..gateway.endpoint import touch

            touch()  # an open conversation keeps the local gateway from idling out
        if replace_from is None and (gone := await self.refresh()) is not None:
            failed = TurnFailed(
                "store",
                f"session {gone[-8:]} was deleted by another kaiwa process; nothing was sent",
                "your next message starts a new session",
            )
            emit(failed)
            return failed
        caps = self._caps()
        check = await self._spending.check(caps, self.model, self.info, user_input, self.options.instructions or "")
        if check.refusal is not None:
            refusal = check.refusal
            failed = TurnFailed(
                "budget", refusal.message(), refusal.hint(), model=self.model, setting=refusal.setting,
                session_id=self.session_id if self.info is not None else None,
            )  # fmt: skip
            emit(failed)
            return failed
        from .stream_retry import TurnBroke

        if (refused := await self._fit(user_input, emit, replace_from)) is not None:
            emit(refused)
            return refused
        try:
            resume = await self._failed_turn(user_input, replace_from)
            if resume is not None:
                replace_from = resume[0]
            engine = await self._started()
            done = await engine.run_turn(
                self._store, self.session_id, user_input, self.options, emit, replace_from=replace_from,
                approver=self._approver, redo_text=self._redo_text, resume=resume[1:] if resume else None,
            )  # fmt: skip
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except TurnBroke as broke:
            again = await self._after_context_error(broke, user_input, emit, replace_from)
            if isinstance(again, TurnFailed):
                emit(again)
                return again
            done, engine = again, await self._started()
        except Exception as exc:
            failed = as_event(self.explain(exc), exc)
            emit(failed)
            return failed
        self.last_answer = done.answer
        self._meter.counted(engine.last_call)
        self._metered = self.session_id
        if (context := await self.context()) is None and self.info is not None:
            self._unknown_window(emit)  # a one-shot's first turn says nothing: there is nothing to compact yet
        done = dataclasses.replace(done, context=context)
        if replace_from is not None or self.info is None:
            self.info = await self._store.get_session(self.session_id)
        else:
            self._count(done.record)
        await self.save_role()  # a role or --system given on a resumed session (the turn stored a role it names)
        await self._spending.after(caps, self.info, done.record, emit)
        if self._schema is not None:
            try:
                done = dataclasses.replace(done, output=self._schema.check(done.answer, self.session_id))
            except KaiwaError as exc:
                failed = TurnFailed("bad_answer", exc.message, exc.hint, exc.exit_code, cause=exc)
                emit(failed)
                return failed
        emit(done)
        return done

    # -- the context window (core/context.py, core/compact_auto.py) ---------------------------------------
    async def _fit(self, user_input: str | list[Item], emit: Emit, replace_from: int | None) -> TurnFailed | None:
        """Before a turn: refuse a message that cannot fit even alone; compact in place when the projection passes
        KAIWA_AUTO_COMPACT. A new session's short first message does not wait on the proxy's /model/info."""
        from . import compact_auto as auto
        from .estimate import input_tokens

        if self.info is None and input_tokens(user_input) < auto.FIRST_CHECK:
            return None
        use = await self.context(user_input)
        if use is None:
            return None
        if (refusal := auto.too_large(use, self.model)) is not None:
            return TurnFailed("context_window", *refusal, model=self.model,
                              session_id=self.session_id if self.info is not None else None)  # fmt: skip
        if replace_from is None and auto.due(use, self._settings.auto_compact):
            return await self._compact_in_place(use, emit, "auto")
        return None

    async def _compact_in_place(self, use: ContextUse, emit: Emit, reason: str) -> TurnFailed | None:
        """Summarise the older exchanges (a paid request: the spending caps are asked first); a summary that
        fails is a notice, and the turn goes on as it would have."""
        from .compact import SUMMARISER
        from .compact_auto import KEEP_SHARE, compact_in_place
        from .events import ContextCompacted

        info = self.info
        if info is None:
            return None
        check = await self._spending.check(self._caps(), self.model, None, " " * (4 * use.used), SUMMARISER)
        if check.refusal is not None:
            emit(Notice(f"not compacting the conversation: {check.refusal.message()}", "warning"))
            return None
        try:
            # after the cloud's context error the window is smaller than stated: keep less than what was sent
            keep = use.used * KEEP_SHARE // 100 if reason == "context_error" else None
            done = await compact_in_place(self._store, info, await self._started(), self.model, use,
                                          lambda line: emit(Notice(line)), keep)  # fmt: skip
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            emit(Notice(f"could not compact the conversation: {self.explain(exc).message}", "warning"))
            return None
        if done is not None:
            self._meter.counted((done.tokens_after, 0))  # an estimate until the next call's own count
            emit(ContextCompacted(self.session_id, done.tokens_before, done.tokens_after, use.window, done.cost,
                                  "context_error" if reason == "context_error" else "auto"))  # fmt: skip
        return None

    async def _after_context_error(
        self, broke: Any, user_input: str | list[Item], emit: Emit, replace_from: int | None
    ) -> TurnCompleted | TurnFailed:
        """A turn the cloud refused as too long for its window: compact once and send it again; else its line."""
        from .failures import is_context_window

        cause = broke.cause
        if not is_context_window(cause) or broke.kept:
            return await self._broke(broke)
        if self.info is None:  # a brand-new session: nothing to compact, nothing stored (issue 29.11)
            return TurnFailed("context_window", f"this message does not fit the context window of {self.model!r};"
                              " nothing was stored", "shorten it or send it in parts, or pick a model with a longer "
                              "context ($model)", model=self.model, cause=cause)  # fmt: skip
        use = await self.context(user_input)
        if use is None or replace_from is not None or self._settings.auto_compact is None:
            return await self._broke(broke)
        compacted = await self._store.compaction(self.session_id)
        await self._compact_in_place(use, emit, "context_error")
        if await self._store.compaction(self.session_id) == compacted:
            return await self._broke(broke)  # nothing could be compacted: the line says what to do
        engine = await self._started()
        try:
            return await engine.run_turn(self._store, self.session_id, user_input, self.options, emit,
                                         approver=self._approver, redo_text=self._redo_text)  # fmt: skip
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            if is_context_window(getattr(exc, "cause", exc)):
                return TurnFailed("context_window", f"the conversation still does not fit the context window of "
                                  f"{self.model!r} after compacting it; the session is as it was (compacted)",
                                  "send a shorter message, or pick a model with a longer context ($model)",
                                  model=self.model, session_id=self.session_id, cause=exc)  # fmt: skip
            from .stream_retry import TurnBroke

            return await self._broke(exc if isinstance(exc, TurnBroke) else TurnBroke(exc, sent=True))

    async def _broke(self, broke: Any) -> TurnFailed:
        """The failure of a turn that reached the engine: its line, whether the message was sent, and the tools
        that ran (kept with the session as a failed turn)."""
        from .failures import as_event

        failed = as_event(self.explain(broke.cause), broke.cause)
        if not broke.kept:
            return dataclasses.replace(failed, sent=broke.sent)
        self.info = await self._store.get_session(self.session_id)
        ran = ", ".join(dict.fromkeys(broke.kept))
        return dataclasses.replace(
            failed,
            message=f"{failed.message} — after {ran} ran",
            hint=f"{ran} ran and is kept with session {self.session_id[-8:]} (a failed turn): retrying the same"
            " message continues from its result without running it again",
            kept=broke.kept,
            sent=True,
        )

    async def _failed_turn(
        self, user_input: str | list[Item], replace_from: int | None
    ) -> tuple[int, list[Item], TurnRecord] | None:
        """The session's last turn, when it failed after tools ran and this turn retries it (`/retry`, or the same
        message again): where it starts, its items and its record — the retry continues from them."""
        if self.info is None:
            return None
        turns = await self._store.turns(self.session_id)
        if not turns or turns[-1].outcome != "failed":
            return None
        items = await self._store.items(self.session_id)
        index = last_user_index(items)
        if index is None:
            return None
        same = replace_from == index or (replace_from is None and first_text(user_input) == item_text(items[index]))
        return (index, items[index:], turns[-1]) if same else None

    def _count(self, record: TurnRecord) -> None:
        """The session's figures after a turn, without asking the store again (keeps a turn's overhead flat)."""
        info = self.info
        assert info is not None
        cost = None if info.cost is None and record.cost is None else (info.cost or 0.0) + (record.cost or 0.0)
        self.info = dataclasses.replace(
            info,
            model=record.model,
            turns=info.turns + 1,
            input_tokens=info.input_tokens + record.input_tokens,
            output_tokens=info.output_tokens + record.output_tokens,
            cost=cost,
            role=self.options.role or info.role,  # commit_turn stores a role it is given
        )

    async def last_exchange(self) -> tuple[int, Item]:
        """Where the last exchange starts, and its user message."""
        items = await self.items()
        index = last_user_index(items)
        if index is None:
            raise KaiwaError("nothing to retry yet", "send a message first")
        return index, items[index]

    async def retry(self, emit: Emit) -> TurnCompleted | TurnFailed:
        """The last message again, replacing its answer (atomically, in the turn's commit)."""
        index, message = await self.last_exchange()
        return await self.send([message], emit, replace_from=index)

    async def undo(self) -> Item:
        """Remove the last exchange; returns its user message (to put back on the input line)."""
        from .history import last_answer

        items = await self.items()
        index = last_user_index(items)
        if index is None:
            raise KaiwaError("nothing to undo", "the session has no exchange yet")
        turns = await self._store.turns(self.session_id)
        await self._store.truncate(self.session_id, index, max(0, len(turns) - 1))
        self._metered = ""  # the meter reads the now-last turn again
        # a compaction made for this exchange (after the turn before it), or one that kept items now gone: undone
        compaction = await self._store.compaction(self.session_id)
        before = turns[-2].created_at if len(turns) > 1 else 0.0
        if compaction is not None and (compaction.created_at > before or compaction.first_kept > index):
            await self._store.drop_compaction(self.session_id)
        self.info = await self._store.get_session(self.session_id)
        self.last_answer = last_answer(items[:index])
        return items[index]
