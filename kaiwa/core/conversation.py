"""A conversation: the store, the engine, the session and the options, for one-shot and the REPL alike.

`opening.open_conversation(settings, setup, emit)` makes one. Its engine (the Agents SDK, the HTTP pool, the MCP
servers) starts on `start()` or the first turn, so a face can greet the user before that cost.

Faces call the methods; none of them prints. A turn reports through the `emit` the face passes: its events, then
`TurnCompleted` or `TurnFailed` (also returned).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

from ..errors import KaiwaError
from ..settings import Settings
from ..store.base import Item, SessionInfo, Store, TurnRecord
from .budget import SETTING, Caps
from .choices import TurnChoices
from .copies import SessionCopies
from .events import Emit, Notice, TurnCompleted, TurnFailed
from .history import last_answer, last_user_index
from .options import EngineConfig, Setup, TurnOptions
from .spending import Spending

__all__ = ["Conversation", "Setup"]

if TYPE_CHECKING:
    from ..gateway.endpoint import Endpoint
    from ..roles import Role
    from .approvals import Approver
    from .engine import ChatEngine
    from .usage_report import UsageReport


class Conversation(TurnChoices, SessionCopies):
    def __init__(
        self, settings: Settings, store: Store, endpoint: Endpoint, config: EngineConfig, setup: Setup, emit: Emit
    ) -> None:
        self.settings = settings
        self.store = store
        self.endpoint = endpoint
        self.config = config
        self.schema = setup.schema
        self._emit = emit  # for what happens outside a turn (an MCP server that will not start)
        self.options = TurnOptions(
            model=setup.model,
            reasoning=setup.reasoning,
            temperature=setup.temperature,
            max_output_tokens=setup.max_output_tokens,
            output_type=setup.schema.output_type() if setup.schema else None,
            verbosity=setup.verbosity,
            service_tier=setup.service_tier,
        )
        self.session_id = ""
        self.info: SessionInfo | None = None  # None until the session's first turn is stored
        self.last_answer = ""
        self.engine: ChatEngine | None = None
        self._engine_cm: ChatEngine | None = None
        # The face's question for a tool call that needs approval (core/approvals.py); None: no one to ask,
        # such calls are declined.
        self.approver: Approver | None = None
        self.setup = setup
        self.base = self.options  # what the command line and the settings ask for, without a role
        self.role: Role | None = None
        self.mcp_specs = list(config.mcp_specs)  # every configured server (a role may pick some)
        self.mcp_path = "the MCP config"
        self.spending = Spending(store, endpoint.base_url, endpoint.api_key)

    # -- the engine ----------------------------------------------------------------------------------
    async def start(self) -> ChatEngine:
        """The engine, started once (imports the SDK, connects the MCP servers)."""
        if self.engine is None:
            from .engine import ChatEngine

            engine = ChatEngine(self.config, self._emit)
            self.engine = await engine.__aenter__()
            self._engine_cm = engine
        return self.engine

    def _forget_grants(self) -> None:
        if self.engine is not None:
            self.engine.policy.forget_grants()

    async def close(self) -> None:
        engine, self.engine, self._engine_cm = self._engine_cm, None, None
        if engine is not None:
            await engine.__aexit__(None, None, None)

    # -- sessions ------------------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.options.model

    @property
    def instructions(self) -> str | None:
        return self.options.instructions

    def new(self, instructions: str | None = None) -> None:
        """A fresh session: stored with its first turn. Its instructions: `instructions`, else --system (every
        session the REPL starts, /new too), else the role's, else KAIWA_SYSTEM, else kaiwa's default."""
        from ..store.ids import new_session_id

        self.session_id = new_session_id()
        self.info = None
        self._forget_grants()
        self.last_answer = ""
        own = self.role.instructions if self.role is not None else None
        chosen = instructions or self.setup.instructions or own or self.settings.system
        self.options = dataclasses.replace(self.options, instructions=chosen)

    async def open(self, info: SessionInfo) -> None:
        self.session_id = info.session_id
        self.info = info
        self.options = dataclasses.replace(self.options, instructions=info.instructions)
        self.last_answer = last_answer(await self.store.items(info.session_id))

    async def resume(self, ref: str) -> SessionInfo:
        """Another stored session, with the role it remembers."""
        from ..store.naming import resolve
        from .role_use import stored_role

        info = await resolve(self.store, ref)
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
        fresh = await self.store.get_session(self.session_id)
        if fresh is not None:
            self.info = fresh
            return None
        gone = self.session_id
        self.new(self.options.instructions)
        return gone

    async def items(self) -> list[Item]:
        return await self.store.items(self.session_id) if self.info is not None else []

    async def turns(self) -> list[TurnRecord]:
        return await self.store.turns(self.session_id) if self.info is not None else []

    async def recent(self, limit: int = 50) -> list[SessionInfo]:
        return await self.store.list_sessions(limit)

    async def aliases(self) -> list[str]:
        """The proxy's model aliases ([] when it will not say)."""
        from .failures import proxy_aliases

        return await asyncio.to_thread(proxy_aliases, self.endpoint.base_url, self.endpoint.api_key)

    def explain(self, exc: BaseException) -> KaiwaError:
        """What went wrong, as the one line (`failures.explain` with this conversation's proxy and model)."""
        from .failures import explain

        return explain(exc, base_url=self.endpoint.base_url, api_key=self.endpoint.api_key, model=self.model,
                       timeout=self.settings.timeout, store=self.store)  # fmt: skip

    # -- turns ---------------------------------------------------------------------------------------
    async def send(
        self, user_input: str | list[Item], emit: Emit, *, replace_from: int | None = None
    ) -> TurnCompleted | TurnFailed:
        """One turn. Emits its events and returns how it ended; a cancelled turn raises CancelledError (nothing
        stored). A `--schema` answer that does not follow the schema is stored, and fails as `bad_answer`."""
        from .failures import as_event

        if self.endpoint.managed:
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
        caps = self.caps()
        check = await self.spending.check(caps, self.model, self.info, user_input, self.options.instructions or "")
        if check.refusal is not None:
            refusal = check.refusal
            failed = TurnFailed(
                "budget", refusal.message(), refusal.hint(), model=self.model, setting=refusal.setting,
                session_id=self.session_id if self.info is not None else None,
            )  # fmt: skip
            emit(failed)
            return failed
        try:
            engine = await self.start()
            done = await engine.run_turn(
                self.store, self.session_id, user_input, self.options, emit, replace_from=replace_from,
                approver=self.approver,
            )  # fmt: skip
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            failed = as_event(self.explain(exc), exc)
            emit(failed)
            return failed
        self.last_answer = done.answer
        if replace_from is not None or self.info is None:
            self.info = await self.store.get_session(self.session_id)
        else:
            self._count(done.record)
        await self.save_role()  # a role or --system given on a resumed session (the turn stored a role it names)
        await self.spending.after(caps, self.info, done.record, emit)
        if self.schema is not None:
            try:
                done = dataclasses.replace(done, output=self.schema.check(done.answer, self.session_id))
            except KaiwaError as exc:
                failed = TurnFailed("bad_answer", exc.message, exc.hint, exc.exit_code, cause=exc)
                emit(failed)
                return failed
        emit(done)
        return done

    def caps(self) -> Caps:
        """The spending caps this turn runs under: the settings', and a role's own session cap (the smaller
        one wins: a role can tighten a cap, never loosen it)."""
        settings = self.settings
        session, source = settings.max_cost_session, SETTING["session"]
        own = self.role.settings.max_cost_session if self.role is not None else None
        if own is not None and (session is None or own < session):
            session, source = own, f"the role {self.role.name!r}'s max_cost_session" if self.role else source
        return Caps(session, settings.max_cost_day, settings.max_cost_month, source)

    async def usage_report(self) -> UsageReport:
        """Spend today and this month, by model, against the caps, with this session's own figures."""
        from .usage_report import usage_report

        info = self.info
        session = ((info.cost or 0.0), info.turns) if info is not None else (0.0, 0)
        endpoint = self.endpoint
        return await usage_report(self.store, self.caps(), endpoint.base_url, endpoint.api_key, session)

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
        items = await self.items()
        index = last_user_index(items)
        if index is None:
            raise KaiwaError("nothing to undo", "the session has no exchange yet")
        turns = await self.store.turns(self.session_id)
        await self.store.truncate(self.session_id, index, max(0, len(turns) - 1))
        self.info = await self.store.get_session(self.session_id)
        self.last_answer = last_answer(items[:index])
        return items[index]
