"""What a turn is run with: `EngineConfig` stays the same for a whole process (one-shot) or REPL; `TurnOptions`
may change from one turn to the next (the REPL's /model, /reasoning, /system). New Responses controls go here and
into `agent.model_settings`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INSTRUCTIONS = (
    "You are kaiwa, a helpful assistant in a terminal. Answer in the language of the user's message. "
    "Be concise; use Markdown when it helps. Use the tools you have when they give a more exact answer."
)


@dataclass(frozen=True)
class EngineConfig:
    base_url: str
    api_key: str | None
    timeout: float
    max_retries: int
    use_tools: bool = True
    mcp_specs: list[Any] = field(default_factory=list)
    prompt_cache: bool = True  # False (KAIWA_PROMPT_CACHE=0): no prompt_cache_key
    approve: tuple[str, ...] = ()  # --approve: `tool`, `server/tool` or `all` (tools/approval.py)


@dataclass(frozen=True)
class TurnOptions:
    model: str
    reasoning: str | None = None
    instructions: str | None = None  # None: kaiwa's default instructions
    temperature: float | None = None
    max_output_tokens: int | None = None
    output_type: Any = None  # an SDK AgentOutputSchemaBase (--schema): the answer is JSON in text.format
    verbosity: str | None = None  # text.verbosity: low, medium, high
    service_tier: str | None = None  # auto, default, flex, priority
    role: str | None = None  # the role (roles/NAME.md) in use: stored with the turn
