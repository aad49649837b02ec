"""What a turn is run with: `EngineConfig` stays the same for a whole process (one-shot) or REPL; `TurnOptions`
may change from one turn to the next (the REPL's /model, /reasoning, /system). New Responses controls go here and
into `agent.model_settings`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..roles import Role

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
    stream_retries: int = 2  # KAIWA_STREAM_RETRIES: a model call whose stream breaks off is tried again this often
    stream_idle_timeout: float = 90.0  # KAIWA_STREAM_IDLE_TIMEOUT: seconds without an event that count as a cut


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


@dataclass(frozen=True)
class Setup:
    """What the user asked for when the conversation opens (flags and settings, already checked)."""

    model: str
    session_ref: str | None = None  # full id, short id or a unique fragment
    continue_latest: bool = False  # -c
    reasoning: str | None = None
    use_tools: bool = True
    mcp_config: Path | None = None
    instructions: str | None = None  # --system: a new session's, or replacing a resumed one's
    temperature: float | None = None
    max_output_tokens: int | None = None
    schema: str | None = None  # --schema as given (a JSON Schema file, or fields): loaded as the conversation opens
    verbosity: str | None = None  # --verbosity
    service_tier: str | None = None  # --service-tier
    approve: tuple[str, ...] = ()  # --approve names, already checked (tools/approval.parse_approve_names)
    # False: the face cannot take back text it has shown (plain text into a pipe), so a stream cut after text
    # went out is not retried
    redo_text: bool = True
    role: Role | None = None  # -r NAME (None: the role a resumed session remembers, if any)
    given: frozenset[str] = frozenset()  # the fields above set on the command line: they win over the role's
    mcp_servers: tuple[Any, ...] = ()  # McpServerSpecs handed over by the face (an editor's): join the config's
