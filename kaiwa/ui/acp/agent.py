"""kaiwa as an Agent Client Protocol agent: the SDK's `Agent` protocol over kaiwa's `Conversation`s.

Sessions are kaiwa's sessions: `session/new` opens a new one (stored with its first turn, like any other, its
folder kept as its origin), `session/load` any stored one (one-shot, REPL or editor), replaying it. A failure the
user can act on is a JSON-RPC error whose message is kaiwa's one line; the agent keeps serving.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from functools import wraps
from typing import TYPE_CHECKING, Any

import acp
from acp import schema as s

from ...core.events import Answer, ApprovalRequested, TurnFailed
from ...errors import FLAGS, KaiwaError, one_line, spelled
from . import choices
from .content import replay, turn_input
from .session import ORIGIN, AcpSession, Outbox, on_notice, say

if TYPE_CHECKING:
    from ...core.options import Setup
    from ...settings import Settings

USAGE_KINDS = ("usage", "unknown_model")
# A hint's `$model` / `$reasoning` in the editor's words: its session options (the rest as the command line's).
NAMES = {**FLAGS, "model": "the session's Model option", "reasoning": "the session's Reasoning option"}


def answered[**P, R](method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """kaiwa's failures as JSON-RPC errors carrying the one line (a request the user can fix: invalid params)."""

    @wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except KaiwaError as exc:
            code = -32602 if exc.kind in USAGE_KINDS else -32603
            raise acp.RequestError(code, one_line(exc.message, spelled(exc.hint, NAMES)), {"kind": exc.kind}) from None

    return run


def _stop_reason(failed: TurnFailed) -> str | None:
    """A failed turn that ACP names with a stop reason (the answer was cut at --max-output-tokens, or withheld by
    the cloud's content filter); None: a JSON-RPC error carrying the one line."""
    cause = str(failed.cause or "")
    if "incomplete" in cause and "max_output_tokens" in cause:
        return "max_tokens"
    if "content_filter" in cause:
        return "refusal"
    return None


class KaiwaAgent:
    def __init__(self, settings: Settings, setup: Setup) -> None:
        self.settings = settings
        self.setup = setup  # the command line's choices: every session starts from them
        self.sessions: dict[str, AcpSession] = {}
        self.client: Any = None
        self.outbox: Outbox | None = None
        self._aliases: list[str] | None = None

    def on_connect(self, conn: Any) -> None:
        self.client = conn
        self.outbox = Outbox(lambda session_id, update: conn.session_update(session_id, update))

    async def initialize(self, protocol_version: int, client_capabilities: Any = None, client_info: Any = None,
                         **kwargs: Any) -> s.InitializeResponse:  # fmt: skip
        from ... import __version__

        return s.InitializeResponse(
            protocol_version=acp.PROTOCOL_VERSION,
            agent_info=s.Implementation(name="kaiwa", title="kaiwa", version=__version__),
            agent_capabilities=s.AgentCapabilities(
                load_session=True,
                prompt_capabilities=s.PromptCapabilities(image=True, audio=False, embedded_context=True),
                mcp_capabilities=s.McpCapabilities(http=True, sse=False),
                session_capabilities=s.SessionCapabilities(list=s.SessionListCapabilities()),
            ),
        )

    async def authenticate(self, method_id: str, **kwargs: Any) -> None:
        return None

    # -- sessions --------------------------------------------------------------------------------------------
    @answered
    async def new_session(self, cwd: str, mcp_servers: list[Any] | None = None, **kwargs: Any) -> s.NewSessionResponse:
        session = await self._open(cwd, None, mcp_servers or [])
        return s.NewSessionResponse(session_id=session.session_id, **await self._choices(session))

    @answered
    async def load_session(self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None,
                           **kwargs: Any) -> s.LoadSessionResponse:  # fmt: skip
        old = self.sessions.pop(session_id, None)
        if old is not None:
            await old.close()
        session = await self._open(cwd, session_id, mcp_servers or [])
        assert self.outbox is not None
        for update in replay(await session.conversation.items()):
            self.outbox.put(session.session_id, update)
        await self.outbox.flushed()
        return s.LoadSessionResponse(**await self._choices(session))

    @answered
    async def list_sessions(self, cwd: str | None = None, cursor: str | None = None,
                            **kwargs: Any) -> s.ListSessionsResponse:  # fmt: skip
        from ...core.protocol import stored_sessions

        listed = []
        for info in await stored_sessions(self.settings, on_notice):
            folder = info.origin[len(ORIGIN) :] if info.origin and info.origin.startswith(ORIGIN) else None
            if cwd is not None and folder is not None and folder != cwd:
                continue  # another project's editor session; sessions from the terminal fit any folder
            listed.append(
                s.SessionInfo(
                    session_id=info.session_id, cwd=folder or cwd or os.getcwd(), title=info.title,
                    updated_at=datetime.fromtimestamp(info.updated_at, UTC).isoformat(),
                )
            )  # fmt: skip
        return s.ListSessionsResponse(sessions=listed)

    async def _open(self, cwd: str, session_id: str | None, servers: list[Any]) -> AcpSession:
        from ...core.protocol import open_conversation
        from .servers import specs_for

        setup = dataclasses.replace(self.setup, session_ref=session_id, mcp_servers=tuple(specs_for(servers)))
        opened: list[AcpSession] = []  # the session the conversation's questions go to, once it exists

        async def approve(request: ApprovalRequested) -> Answer:
            return await opened[0].approve(request)

        stack = AsyncExitStack()
        try:
            conversation = await stack.enter_async_context(open_conversation(self.settings, setup, on_notice, approve))
        except BaseException:
            await stack.aclose()
            raise
        assert self.outbox is not None and self.client is not None
        session = AcpSession(conversation, stack, cwd, self.outbox, self.client.request_permission)
        opened.append(session)
        self.sessions[session.session_id] = session
        return session

    def _session(self, session_id: str) -> AcpSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise KaiwaError(f"no open session {session_id}", "open it with session/new or session/load",
                             kind="usage")  # fmt: skip
        return session

    async def _aliases_now(self, session: AcpSession) -> list[str]:
        if not self._aliases:
            self._aliases = await session.conversation.aliases()
        return self._aliases

    async def _choices(self, session: AcpSession) -> dict[str, Any]:
        aliases = await self._aliases_now(session)
        return {
            "config_options": choices.config_options(session.conversation, aliases),
            "modes": choices.modes(session.conversation),
        }

    @answered
    async def set_config_option(self, config_id: str, session_id: str, value: str | bool,
                                **kwargs: Any) -> s.SetSessionConfigOptionResponse:  # fmt: skip
        session = self._session(session_id)
        aliases = await self._aliases_now(session)
        await choices.apply(session.conversation, config_id, str(value), aliases)
        return s.SetSessionConfigOptionResponse(config_options=choices.config_options(session.conversation, aliases))

    @answered
    async def set_session_mode(self, mode_id: str, session_id: str, **kwargs: Any) -> s.SetSessionModeResponse:
        session = self._session(session_id)
        await choices.apply(session.conversation, "role", mode_id, await self._aliases_now(session))
        return s.SetSessionModeResponse()

    # -- turns -----------------------------------------------------------------------------------------------
    @answered
    async def prompt(self, prompt: list[Any], session_id: str, **kwargs: Any) -> s.PromptResponse:
        session = self._session(session_id)
        user_input, _ = turn_input(prompt)
        new = session.conversation.info is None
        result = await session.run(user_input)
        if result is None:
            return s.PromptResponse(stop_reason="cancelled")
        if isinstance(result, TurnFailed):
            reason = _stop_reason(result)
            if reason is None:
                raise KaiwaError(result.message, result.hint, result.exit_code, kind=result.kind)
            from acp.helpers import update_agent_message_text

            assert self.outbox is not None
            self.outbox.put(session_id, update_agent_message_text(result.line(NAMES)))
            await self.outbox.flushed()
            return s.PromptResponse(stop_reason=reason)  # type: ignore[arg-type]
        if new:
            await session.conversation.set_origin(ORIGIN + session.cwd)
        await self._usage(session, result.record)
        record = result.record
        return s.PromptResponse(
            stop_reason="end_turn",
            usage=s.Usage(
                total_tokens=record.input_tokens + record.output_tokens, input_tokens=record.input_tokens,
                output_tokens=record.output_tokens, thought_tokens=record.reasoning_tokens or None,
                cached_read_tokens=record.cached_tokens or None, cached_write_tokens=record.cache_write_tokens or None,
            ),
        )  # fmt: skip

    async def _usage(self, session: AcpSession, record: Any) -> None:
        """The context meter (what the last call's input and answer hold, against the window) and the session's
        cost, when the proxy states the model's window."""
        window = await session.conversation.context_window()
        if window is None or self.outbox is None:
            return
        info = session.conversation.info
        cost = s.Cost(amount=info.cost, currency="USD") if info is not None and info.cost is not None else None
        used = record.input_tokens + record.output_tokens
        self.outbox.put(session.session_id, s.UsageUpdate(session_update="usage_update", used=used, size=window,
                                                          cost=cost))  # fmt: skip
        await self.outbox.flushed()

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.cancel()

    async def close_all(self) -> None:
        for session in list(self.sessions.values()):
            try:
                await session.close()
            except Exception as exc:
                say(f"closing session {session.session_id}: {exc}")
        self.sessions.clear()
