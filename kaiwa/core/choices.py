"""What the next turn of a conversation is sent with: the model, reasoning, verbosity, instructions, role and tools
(the REPL's /model, /reasoning, /verbosity, /system, /role; `-r` at start). Plain state, owned by a `Conversation`
(which stores what must be stored); nothing here touches the store or the engine."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..settings import REASONING_EFFORTS, VERBOSITY_LEVELS, Settings
from .options import EngineConfig, Setup, TurnOptions

if TYPE_CHECKING:
    from ..roles import Role


class Choices:
    """The turn options (`options`), what the command line and settings ask for without a role (`base`), the role,
    and the engine's config (tools and MCP servers change with the role)."""

    def __init__(
        self, settings: Settings, setup: Setup, config: EngineConfig, mcp_specs: list[Any], mcp_path: str, *,
        output_type: Any = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.setup = setup
        self.config = config
        self.mcp_specs = mcp_specs  # every configured server (a role may pick some)
        self.mcp_path = mcp_path
        self.options = TurnOptions(
            model=setup.model,
            reasoning=setup.reasoning,
            temperature=setup.temperature,
            max_output_tokens=setup.max_output_tokens,
            output_type=output_type,  # --schema's, for the SDK
            verbosity=setup.verbosity,
            service_tier=setup.service_tier,
        )
        self.base = self.options
        self.role: Role | None = None

    def set_model(self, model: str) -> None:
        self.options = dataclasses.replace(self.options, model=model)

    def continue_on(self, model: str) -> None:
        """A continued session goes on with the model it last used, as llm and aichat do, unless --model named one
        (a role's model still wins: `use_role` applies it after)."""
        if model and "model" not in self.setup.given:
            self.options = dataclasses.replace(self.options, model=model)
            self.base = dataclasses.replace(self.base, model=model)

    def set_reasoning(self, effort: str | None) -> None:
        if effort is not None and effort not in REASONING_EFFORTS:
            raise UsageError(f"reasoning {effort!r} is not one of {', '.join(REASONING_EFFORTS)}, off")
        self.options = dataclasses.replace(self.options, reasoning=effort)

    def set_verbosity(self, level: str | None) -> None:
        if level is not None and level not in VERBOSITY_LEVELS:
            raise UsageError(f"verbosity {level!r} is not one of {', '.join(VERBOSITY_LEVELS)}, off")
        self.options = dataclasses.replace(self.options, verbosity=level)

    def set_instructions(self, text: str | None) -> None:
        self.options = dataclasses.replace(self.options, instructions=text)

    def new_instructions(self, given: str | None) -> str | None:
        """A new session's instructions: `given`, else --system, else the role's, else KAIWA_SYSTEM (else None:
        kaiwa's default)."""
        own = self.role.instructions if self.role is not None else None
        return given or self.setup.instructions or own or self.settings.system

    def use_role(self, role: Role | None, given: frozenset[str], keep_instructions: bool) -> bool:
        """From the next turn on: `role`'s settings (but those `given` on the command line), instructions (unless
        `keep_instructions`: a session that keeps its role keeps its own) and tools (`core/role_use.py`). True when
        the tools or MCP servers change (the engine must start again)."""
        from .role_use import instructions_after, tools_for, with_role

        use_tools, specs = tools_for(role, self.setup.use_tools, self.mcp_specs, self.mcp_path)
        options = with_role(self.base, self.options, role, given)
        if not keep_instructions and "instructions" not in given:
            fallback = self.setup.instructions or self.settings.system
            options = dataclasses.replace(
                options, instructions=instructions_after(self.options.instructions, self.role, role, fallback)
            )
        self.role, self.options = role, options
        if (use_tools, specs) == (self.config.use_tools, self.config.mcp_specs):
            return False
        self.config = dataclasses.replace(self.config, use_tools=use_tools, mcp_specs=specs)
        return True
