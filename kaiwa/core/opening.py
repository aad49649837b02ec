"""Opening a conversation, for one-shot and the REPL alike: `open_conversation(settings, setup, emit)` opens the
store, picks the session (`-s`, `-c` or a new one) and its role, finds the proxy (maybe starting the local gateway)
and yields a `Conversation` (`conversation.py`). Every way out closes the engine and the store."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..errors import KaiwaError
from ..settings import Settings
from .conversation import Conversation, Setup
from .events import Emit, Notice, SessionOpened
from .options import EngineConfig


@asynccontextmanager
async def open_conversation(settings: Settings, setup: Setup, emit: Emit) -> AsyncIterator[Conversation]:
    """The store opened, the session picked, the proxy found; closed on every way out."""
    from ..gateway.endpoint import missing_cloud_settings, resolve_endpoint
    from ..store import open_store
    from ..store.naming import pick
    from .role_use import stored_role, tools_for

    mcp_specs: list[Any] = []
    mcp_path = "the MCP config"
    if setup.use_tools:
        from ..tools.mcp_config import default_mcp_config_path, load_mcp_config

        chosen = setup.mcp_config or settings.mcp_config  # a file the user named must exist; the default may not
        mcp_specs = load_mcp_config(chosen or default_mcp_config_path(), missing_ok=chosen is None)
        mcp_path = str(chosen or default_mcp_config_path())
    store = open_store(settings, lambda line: emit(Notice(line, "warning")))
    conversation: Conversation | None = None
    try:
        await store.open()  # a bad store fails here, before any gateway is started
        info = await pick(store, setup.session_ref, setup.continue_latest)
        role = setup.role or stored_role(info.role if info else None, lambda line: emit(Notice(line, "warning")))
        use_tools, servers = tools_for(role, setup.use_tools, mcp_specs, mcp_path)  # before a gateway starts too
        endpoint = resolve_endpoint(settings, lambda line: emit(Notice(line)))  # may start the local gateway
        config = EngineConfig(
            base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=settings.timeout,
            max_retries=settings.max_retries, use_tools=use_tools, mcp_specs=servers,
            prompt_cache=settings.prompt_cache,
            approve=setup.approve,
        )  # fmt: skip
        conversation = Conversation(settings, store, endpoint, config, setup, emit)
        conversation.mcp_specs, conversation.mcp_path = mcp_specs, mcp_path
        if info is None:
            conversation.new(setup.instructions)
        else:
            await conversation.open(info)
            if setup.instructions is not None:  # replaces the resumed session's, stored with the next turn
                conversation.options = dataclasses.replace(conversation.options, instructions=setup.instructions)
        # -r NAME: its instructions too; the role a resumed session remembers: its settings, not its instructions
        await conversation.use_role(role, setup.given, keep_instructions=setup.role is None)
        model = conversation.model
        if endpoint.managed and model != "local" and (missing := missing_cloud_settings(model)):
            raise KaiwaError(
                f"the model {model!r} needs {', '.join(missing)} in .env.litellm",
                "add them (see .env.litellm.example), or try $model local",
                model=model,
            )
        emit(SessionOpened(conversation.session_id, model, info is None))
        yield conversation
    finally:
        try:
            if conversation is not None:
                await conversation.close()
        finally:
            await store.close()
