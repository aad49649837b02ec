"""Opening a conversation, for one-shot, the REPL and any other face: `open_conversation(settings, setup, emit)`
opens the store, picks the session (`-s`, `-c` or a new one) and its role, finds the proxy (maybe starting the
local gateway, whose progress is emitted as `GatewayProgress` events) and yields a whole `Conversation`
(`conversation.py`). Every way out closes the engine and the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ..errors import KaiwaError
from ..settings import Settings
from .conversation import Conversation
from .events import Emit, Notice, SessionOpened, progress_of
from .options import EngineConfig, Setup

if TYPE_CHECKING:
    from .events import Approver


def _mcp_servers(settings: Settings, setup: Setup) -> tuple[list[Any], str]:
    """Every configured MCP server, and where they are configured."""
    if not setup.use_tools:
        return [], "the MCP config"
    from ..tools.mcp_config import default_mcp_config_path, load_mcp_config

    chosen = setup.mcp_config or settings.mcp_config  # a file the user named must exist; the default may not
    specs = load_mcp_config(chosen or default_mcp_config_path(), missing_ok=chosen is None)
    # Servers the face was handed (an editor's session/new) join the config's; one of the same name wins.
    given = {spec.name for spec in setup.mcp_servers}
    specs = [spec for spec in specs if spec.name not in given] + list(setup.mcp_servers)
    return specs, str(chosen or default_mcp_config_path())


@asynccontextmanager
async def open_conversation(
    settings: Settings, setup: Setup, emit: Emit, approver: Approver | None = None
) -> AsyncIterator[Conversation]:
    """The store opened, the session picked, the proxy found; closed on every way out. `approver`: the face's
    question for a tool call that needs approval (None: such calls are declined)."""
    from ..gateway.endpoint import missing_cloud_settings, resolve_endpoint
    from ..store import open_store
    from ..store.naming import pick
    from .history import last_answer
    from .role_use import stored_role, tools_for

    schema = None
    if setup.schema is not None:
        from .schema import load_schema

        schema = load_schema(setup.schema)  # a bad one: one line, exit 2, before anything starts
    mcp_specs, mcp_path = _mcp_servers(settings, setup)
    store = open_store(settings, lambda line: emit(Notice(line, "warning")))
    conversation: Conversation | None = None
    try:
        await store.open()  # a bad store fails here, before any gateway is started
        info = await pick(store, setup.session_ref, setup.continue_latest)
        role = setup.role or stored_role(info.role if info else None, lambda line: emit(Notice(line, "warning")))
        use_tools, servers = tools_for(role, setup.use_tools, mcp_specs, mcp_path)  # before a gateway starts too
        endpoint = resolve_endpoint(settings, lambda line: emit(Notice(line)), progress_of(emit))
        config = EngineConfig(
            base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=settings.timeout,
            max_retries=settings.max_retries, use_tools=use_tools, mcp_specs=servers,
            prompt_cache=settings.prompt_cache, approve=setup.approve, stream_retries=settings.stream_retries,
            stream_idle_timeout=settings.stream_idle_timeout,
        )  # fmt: skip
        answer = last_answer(await store.items(info.session_id)) if info is not None else ""
        conversation = Conversation(
            settings, setup, store, endpoint, config, emit, approver, mcp=(mcp_specs, mcp_path), schema=schema,
            session=info, last_answer=answer, role=role,
        )  # fmt: skip
        model = conversation.model
        if endpoint.managed and model != "local" and (missing := missing_cloud_settings(model)):
            raise KaiwaError(
                f"the model {model!r} needs {', '.join(missing)} in .env.litellm",
                "add them (see .env.litellm.example), or try $model local",
                model=model,
                setting=missing[0],
            )
        emit(SessionOpened(conversation.session_id, model, info is None))
        yield conversation
    finally:
        try:
            if conversation is not None:
                await conversation.close()
        finally:
            await store.close()
