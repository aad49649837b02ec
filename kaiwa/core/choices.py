"""What the next turn of a conversation is sent with: the model, reasoning, verbosity, instructions and role
(the REPL's /model, /reasoning, /verbosity, /system, /role; `-r` at start). A part of `Conversation`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..settings import REASONING_EFFORTS, VERBOSITY_LEVELS, Settings
from ..store.base import SessionInfo, Store
from .options import EngineConfig, Setup, TurnOptions

if TYPE_CHECKING:
    from ..roles import Role


class TurnChoices:
    """The choices of `Conversation` (which sets these attributes)."""

    settings: Settings
    store: Store
    setup: Setup
    config: EngineConfig
    options: TurnOptions
    base: TurnOptions
    role: Role | None
    session_id: str
    info: SessionInfo | None
    mcp_specs: list[Any]
    mcp_path: str

    async def close(self) -> None: ...

    def set_model(self, model: str) -> None:
        self.options = dataclasses.replace(self.options, model=model)

    def set_reasoning(self, effort: str | None) -> None:
        if effort is not None and effort not in REASONING_EFFORTS:
            raise UsageError(f"reasoning {effort!r} is not one of {', '.join(REASONING_EFFORTS)}, off")
        self.options = dataclasses.replace(self.options, reasoning=effort)

    def set_verbosity(self, level: str | None) -> None:
        if level is not None and level not in VERBOSITY_LEVELS:
            raise UsageError(f"verbosity {level!r} is not one of {', '.join(VERBOSITY_LEVELS)}, off")
        self.options = dataclasses.replace(self.options, verbosity=level)

    async def set_instructions(self, text: str | None) -> None:
        """This session's instructions (None: kaiwa's default); stored at once when the session is."""
        if self.info is not None:
            await self.store.set_instructions(self.session_id, text)
            self.info = await self.store.get_session(self.session_id)
        self.options = dataclasses.replace(self.options, instructions=text)

    async def use_role(
        self, role: Role | None, given: frozenset[str] = frozenset(), *, keep_instructions: bool = False
    ) -> None:
        """From the next turn on: `role`'s settings (but those `given` on the command line), instructions (unless
        `keep_instructions`: a session that keeps its role keeps its own) and tools (`core/role_use.py`)."""
        from .role_use import instructions_after, tools_for, with_role

        use_tools, specs = tools_for(role, self.setup.use_tools, self.mcp_specs, self.mcp_path)
        options = with_role(self.base, self.options, role, given)
        if not keep_instructions and "instructions" not in given:
            fallback = self.setup.instructions or self.settings.system
            options = dataclasses.replace(
                options, instructions=instructions_after(self.options.instructions, self.role, role, fallback)
            )
        self.role, self.options = role, options
        if (use_tools, specs) != (self.config.use_tools, self.config.mcp_specs):
            self.config = dataclasses.replace(self.config, use_tools=use_tools, mcp_specs=specs)
            await self.close()  # the next turn starts an engine with these tools and servers

    async def save_role(self) -> None:
        """Store the role and the instructions now (an existing session; a new one gets them with its turn)."""
        if self.info is not None and self.info.role != self.options.role:
            await self.store.set_role(self.session_id, self.options.role)
            self.info = dataclasses.replace(self.info, role=self.options.role)
        if self.info is not None and self.info.instructions != self.options.instructions:
            await self.set_instructions(self.options.instructions)
