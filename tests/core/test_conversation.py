"""The `Conversation` is the one way into the core, built whole, and it answers a face's questions with plain data:
no SDK, store or gateway object comes back (the faces' import contract in .importlinter holds the rest)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from kaiwa.core.conversation import Conversation
from kaiwa.core.events import Event
from kaiwa.core.options import EngineConfig, Setup
from kaiwa.core.protocol import Conversation as ConversationProtocol
from kaiwa.core.views import SessionUsage, ToolInfo, Tools
from kaiwa.settings import load_settings
from kaiwa.store import open_store


class NoProxy:
    base_url = "http://127.0.0.1:9/v1"  # nothing listens: no question here needs the proxy
    api_key = None
    managed = False


def test_questions_are_answered_with_plain_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_DB_PATH", str(tmp_path / "s.sqlite3"))
    monkeypatch.delenv("SESSION_DB_URL", raising=False)
    settings = load_settings(None)
    events: list[Event] = []

    async def ask() -> tuple[Tools, Tools, SessionUsage, str]:
        store = open_store(settings)
        await store.open()
        config = EngineConfig(NoProxy.base_url, None, timeout=5, max_retries=0)
        conversation = Conversation(settings, Setup(model="fake-a"), store, NoProxy(), config, events.append)  # type: ignore[arg-type]
        off = Conversation(settings, Setup(model="fake-a", use_tools=False), store, NoProxy(),  # type: ignore[arg-type]
                           dataclasses.replace(config, use_tools=False), events.append)  # fmt: skip
        try:
            return await conversation.tools(), await off.tools(), await conversation.usage(), conversation.session_id
        finally:
            await conversation.close()
            await off.close()
            await store.close()

    tools, none, usage, session_id = asyncio.run(ask())
    assert tools.enabled and tools.entries and all(isinstance(entry, ToolInfo) for entry in tools.entries)
    calculate = next(entry for entry in tools.entries if isinstance(entry, ToolInfo) and entry.name == "calculate")
    assert (calculate.server, calculate.action, calculate.why) == ("", "run", "") and calculate.description
    assert none == Tools(enabled=False, off_by_role=None)
    assert usage == SessionUsage(turns=())  # a new session: no turns, and the proxy was not asked for prices
    assert len(session_id) == 36  # built whole: a new session's id is there before any turn
    assert not [event for event in events if event.type == "error"]


def test_the_implementation_is_the_protocol_faces_hold() -> None:
    surface = {name for name in dir(ConversationProtocol) if not name.startswith("_")}
    assert surface - set(dir(Conversation)) == {"session_id", "info", "last_answer"}  # attributes of an instance
    assert {"tools", "usage", "send", "retry", "undo", "resume", "fork", "compact", "aliases"} <= surface
    assert not {"store", "engine", "endpoint", "config", "approver"} & set(dir(Conversation))  # nothing behind it
