"""The `--json` lines: one typed definition (pydantic models, one per line type, a union tagged by `type`), kept
apart from the core's events (`core/events.py`) as the protocol a script reads. `ui/jsonl.py` builds each line
from these models; `chat.py schema` prints their JSON Schema (draft 2020-12); the suite checks every `--json` line
of its runs against it.

Versioned: `SCHEMA_VERSION` is carried by the `session` and `error` lines (one of them is the first line of every
run). A new line type or a new optional field keeps the version (readers skip types they do not know); a field
removed, renamed or retyped bumps it. Imported only by `--json` runs and `chat.py schema` (pydantic is already
loaded by then for a turn: openai's types use it), never by `--help` or `sessions list`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import FailureKind

SCHEMA_VERSION: Final = 1
SCHEMA_ID = f"https://kaiwa.invalid/schemas/jsonl/v{SCHEMA_VERSION}.json"


class LineModel(BaseModel):
    # The schema describes lines as written: every field is present (also those with defaults, like `type`).
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)


class SessionLine(LineModel):
    """First: the conversation the turn goes to (`new`: the turn will create it)."""

    type: Literal["session"] = "session"
    session_id: str
    model: str
    new: bool
    schema_version: Literal[1] = SCHEMA_VERSION


class TextLine(LineModel):
    """A piece of the answer, as it streams."""

    type: Literal["text"] = "text"
    delta: str


class ReasoningLine(LineModel):
    """A piece of the model's reasoning summary, as it streams."""

    type: Literal["reasoning"] = "reasoning"
    delta: str


class ToolCallLine(LineModel):
    """The model calls a tool; `arguments` as JSON (text when the model did not send JSON)."""

    type: Literal["tool_call"] = "tool_call"
    name: str
    arguments: Any


class ToolResultLine(LineModel):
    type: Literal["tool_result"] = "tool_result"
    name: str
    output: Any


class ApprovalRequestedLine(LineModel):
    """A tool call waits for approval; `read_only`: the tool's own hint (null: it gives none)."""

    type: Literal["approval"] = "approval"
    state: Literal["requested"] = "requested"
    call_id: str
    server: str
    tool: str
    arguments: Any
    read_only: bool | None


class ApprovalDecidedLine(LineModel):
    """What became of a call that needed approval; `by`: "you", or the rule that decided it."""

    type: Literal["approval"] = "approval"
    state: Literal["decided"] = "decided"
    call_id: str
    server: str
    tool: str
    decision: Literal["allow", "allow_tool", "decline"]
    by: str


class RetryLine(LineModel):
    """A stream broke off (dropped, failed mid-answer, or silent for KAIWA_STREAM_IDLE_TIMEOUT) and is tried again:
    drop the `text` and `reasoning` deltas since the turn began or its last `tool_result`. `text`: the answer so far
    that stays (earlier model calls of the turn); `kept`: tools whose results stay (they are not run again).
    `attempt`: the attempt that starts now (2 for the first retry), of `of` at most."""

    type: Literal["retry"] = "retry"
    attempt: int
    of: int
    reason: str
    stage: Literal["before_output", "during_output"]
    text: str
    kept: list[str]


class Usage(LineModel):
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cached_tokens: int  # read from the prompt cache (part of input_tokens)
    cache_write_tokens: int  # written to it (part of input_tokens too)
    cost: float | None


def _output_optional(schema: dict[str, Any]) -> None:
    schema["required"] = [name for name in schema.get("required", []) if name != "output"]


class DoneLine(LineModel):
    """Last, on success: the whole answer and the turn's usage. `output`: a `--schema` answer's checked value
    (present only with --schema)."""

    model_config = ConfigDict(json_schema_extra=_output_optional)

    type: Literal["done"] = "done"
    session_id: str
    model: str
    text: str
    usage: Usage
    stop_reason: Literal["stop", "length"] = "stop"  # "length": stopped at its output limit (kept as it is)
    attempts: int = 1  # model attempts: more than 1 when a stream broke off and was tried again
    output: Any = None


class ErrorLine(LineModel):
    """Last, on failure (the exit code says the same): `session_id` null when no session is stored."""

    type: Literal["error"] = "error"
    kind: FailureKind
    message: str
    hint: str | None
    session_id: str | None
    schema_version: Literal[1] = SCHEMA_VERSION


Approval = Annotated[ApprovalRequestedLine | ApprovalDecidedLine, Field(discriminator="state")]
Line = Annotated[
    SessionLine
    | TextLine
    | ReasoningLine
    | ToolCallLine
    | ToolResultLine
    | Approval
    | RetryLine
    | DoneLine
    | ErrorLine,
    Field(discriminator="type"),
]


def json_schema() -> dict[str, Any]:
    """The published schema of one `--json` line (JSON Schema draft 2020-12)."""
    schema = TypeAdapter(Line).json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "kaiwa --json line",
        "description": "One line of `kaiwa --json` (JSON Lines): session first, then the answer's events, then done or"
        " error. Readers skip line types they do not know.",
        "x-schema-version": SCHEMA_VERSION,
        **schema,
    }
