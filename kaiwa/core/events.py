"""What the engine tells its faces: typed events, each a frozen dataclass tagged by `type` (as the Agents SDK's
`stream_events.py` tags its own). The core only emits them; the faces (`kaiwa/ui`: the terminal, the REPL, JSON
Lines) decide how each looks. `--json` writes them almost as they are (`ui/jsonl.py`).

A turn emits, in order: any `Notice` and `LockWaiting`, then `TextDelta` / `ReasoningDelta` / `ToolCalled` /
`ToolReturned` as the answer streams, then exactly one of `TurnCompleted` or `TurnFailed`. A call that needs
approval comes after its `ToolCalled`: `ApprovalRequested` (when someone is asked), then `ApprovalDecided`, then its
`ToolReturned` (its output, or the SDK's rejection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import one_line

if TYPE_CHECKING:
    from ..store.base import TurnRecord


@dataclass(frozen=True)
class SessionOpened:
    """The conversation a turn goes to: `new` when the turn will create it."""

    session_id: str
    model: str
    new: bool
    type: Literal["session"] = "session"


@dataclass(frozen=True)
class TextDelta:
    delta: str
    type: Literal["text"] = "text"


@dataclass(frozen=True)
class ReasoningDelta:
    delta: str
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True)
class ToolCalled:
    name: str
    arguments: str  # as the model sent it (JSON text)
    call_id: str = ""
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class ToolReturned:
    name: str
    output: Any
    call_id: str = ""
    type: Literal["tool_result"] = "tool_result"


Answer = Literal["allow", "allow_tool", "decline"]  # y: this call; a: this tool, for the rest of the process; n


@dataclass(frozen=True)
class ApprovalRequested:
    """A tool call waits for the user's answer (`core/approvals.py`). `read_only`: the tool's own `readOnlyHint`,
    shown but not trusted unless its server's config says so. `order`: the tool's declared arguments, required
    ones first, each group as its schema lists them: the order a question shows them in."""

    call_id: str
    server: str
    tool: str
    arguments: str  # as the model sent it (JSON text), already checked against the tool's input schema
    read_only: bool | None = None
    order: tuple[str, ...] = ()
    type: Literal["approval"] = "approval"
    state: Literal["requested"] = "requested"

    @property
    def name(self) -> str:
        """`server/tool`: the name `--approve` takes."""
        return f"{self.server}/{self.tool}" if self.server else self.tool


@dataclass(frozen=True)
class ApprovalDecided:
    """What happened to a call that needed approval. `by`: "you", NO_TERMINAL, or the rule that decided it
    (`tools/approval.py`'s words, e.g. "denied in mcp.json")."""

    call_id: str
    server: str
    tool: str
    decision: Answer
    by: str
    type: Literal["approval"] = "approval"
    state: Literal["decided"] = "decided"

    @property
    def name(self) -> str:
        return f"{self.server}/{self.tool}" if self.server else self.tool


NO_TERMINAL = "no terminal to ask on"


@dataclass(frozen=True)
class Notice:
    """A line beside the answer: a replaced byte, a gateway starting, an MCP server that would not start.
    `level` "warning" for what the user should act on."""

    line: str
    level: Literal["info", "warning"] = "info"
    type: Literal["notice"] = "notice"


@dataclass(frozen=True)
class LockWaiting:
    """Another kaiwa process is in a turn on this session; this one waits for it."""

    session_id: str
    type: Literal["waiting"] = "waiting"

    def line(self) -> str:
        return f"waiting: another kaiwa process is in a turn on session {self.session_id}"


@dataclass(frozen=True)
class TurnCompleted:
    """The turn is stored. `output`: the checked JSON value of a `--schema` answer."""

    session_id: str
    record: TurnRecord
    answer: str
    output: Any = None
    type: Literal["done"] = "done"


@dataclass(frozen=True)
class TurnFailed:
    """The turn did not complete; the session is as it was (except `kind == "bad_answer"`: the answer is stored
    but does not follow the schema). `kind` is one of `core.failures.KINDS`."""

    kind: str
    message: str
    hint: str = ""
    exit_code: int = 1
    type: Literal["error"] = "error"
    cause: BaseException | None = field(default=None, compare=False, repr=False)  # for --debug's traceback

    def line(self) -> str:
        return one_line(self.message, self.hint)


Event = (
    SessionOpened
    | TextDelta
    | ReasoningDelta
    | ToolCalled
    | ToolReturned
    | ApprovalRequested
    | ApprovalDecided
    | Notice
    | LockWaiting
    | TurnCompleted
    | TurnFailed
)
Emit = Callable[[Event], None]


def ignore(event: Event) -> None:
    """A sink that drops every event (tests, benches, compaction)."""
