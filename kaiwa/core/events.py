"""What the engine tells its faces: the one typed definition of every outcome, each a frozen dataclass tagged by
`type` (as the Agents SDK's `stream_events.py` tags its own). The core only emits them; the faces (`kaiwa/ui`: the
terminal, the REPL, JSON Lines, ACP) decide how each looks. Failures are events too, also those before a turn starts
(no such session, a bad role, the gateway not starting): one `TurnFailed` with a `kind` from the closed list
`errors.FailureKind` and structured fields (the model, the setting; the options its hint names as `$model`).

A turn emits, in order: any `Notice` and `LockWaiting`, then `TextDelta` / `ReasoningDelta` / `ToolCalled` /
`ToolReturned` as the answer streams (with a `TurnRetrying` where a stream broke off and is tried again), then
exactly one of `TurnCompleted` or `TurnFailed`. A call that needs approval comes after its `ToolCalled`:
`ApprovalRequested` (when someone is asked), then `ApprovalDecided`, then its `ToolReturned` (its output, or the
SDK's rejection).

How to add an event type:
  1. Here: a frozen dataclass with a `type: Literal["name"] = "name"` field (plain data: no SDK, store or gateway
     object), added to `Event` below. Emit it from the core.
  2. Every face decides what it shows: a `case` in `ui/terminal.py`'s Renderer (the REPL draws through it too),
     `ui/jsonl.py`'s JsonLines, and the ACP face. A face that ignores it says so with an empty case.
  3. If `--json` prints it: a pydantic model for its line in `ui/jsonl_schema.py` (`type` first, added to `Line`),
     built in `JsonLines.__call__`. A new line type or optional field keeps `SCHEMA_VERSION`; a changed or removed
     field bumps it. `chat.py schema` then publishes it, and the suite checks every `--json` line against it.
A new failure is not a new event: a `kind` added to `errors.FailureKind` (see there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import FLAGS, FailureKind, one_line, spelled

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


Answer = Literal["allow", "allow_tool", "decline"]  # y: this call; a: this tool, for the rest of the session; n


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
class GatewayProgress:
    """The local gateway is being set up (before any turn): `state` "begin", "step" (a new step), "detail" (a line
    of uv's progress), "tick" (time passes), "ready" (it succeeded; `step` says what) or "end"; `elapsed` seconds
    since it began. A face that finds its output closed while drawing it raises `gateway.progress.GatewayInterrupted`
    (the set-up stops cleanly)."""

    state: Literal["begin", "step", "detail", "tick", "ready", "end"]
    step: str = ""
    detail: str = ""
    elapsed: float = 0.0
    type: Literal["gateway"] = "gateway"


@dataclass(frozen=True)
class LockWaiting:
    """Another kaiwa process is in a turn on this session; this one waits for it."""

    session_id: str
    type: Literal["waiting"] = "waiting"

    def line(self) -> str:
        return f"waiting: another kaiwa process is in a turn on session {self.session_id}"


@dataclass(frozen=True)
class TurnRetrying:
    """A model call's stream broke off (dropped, failed mid-answer, or silent for KAIWA_STREAM_IDLE_TIMEOUT) and is
    tried again. What the cut call streamed is void: a reader drops the text and reasoning deltas since the turn
    began or since its last `tool_result`; `text` is the turn's answer so far that stays (what earlier model calls
    of the turn said). Tool results already in (`kept`, their names) stay too: those tools are not run again.
    `stage`: "before_output" (the call had streamed nothing yet) or "during_output"."""

    attempt: int  # the attempt that starts now: 2 for the first retry
    of: int  # attempts at most (1 + KAIWA_STREAM_RETRIES)
    reason: str
    stage: Literal["before_output", "during_output"]
    text: str = ""
    kept: tuple[str, ...] = ()
    type: Literal["retry"] = "retry"


@dataclass(frozen=True)
class TurnCompleted:
    """The turn is stored. `output`: the checked JSON value of a `--schema` answer. `stop_reason`: "length" when
    the answer stopped at its output limit (it is stored as it is), else "stop"."""

    session_id: str
    record: TurnRecord
    answer: str
    output: Any = None
    stop_reason: Literal["stop", "length"] = "stop"
    type: Literal["done"] = "done"


@dataclass(frozen=True)
class TurnFailed:
    """The turn (or what was to start it) did not complete; the session is as it was (except `kind ==
    "bad_answer"`: the answer is stored but does not follow the schema; and `kept`: tools that ran before the
    failure, stored with the session as a failed turn, so a retry continues from their results). `hint` names
    options as `$model` … (`errors.spelled`); `model` / `setting`: what the failure is about; `session_id`: the
    stored session it leaves (None: none, e.g. a new session whose first turn failed). `sent`: the message reached
    the proxy (it is never "not sent" then, though nothing of it may be saved)."""

    kind: FailureKind
    message: str
    hint: str = ""
    exit_code: int = 1
    model: str | None = None
    setting: str | None = None
    session_id: str | None = None
    kept: tuple[str, ...] = ()
    sent: bool = False
    type: Literal["error"] = "error"
    cause: BaseException | None = field(default=None, compare=False, repr=False)  # for --debug's traceback

    def hint_in(self, names: Mapping[str, str] = FLAGS) -> str:
        return spelled(self.hint, names)

    def line(self, names: Mapping[str, str] = FLAGS) -> str:
        return one_line(self.message, self.hint_in(names))


Event = (
    SessionOpened
    | TextDelta
    | ReasoningDelta
    | ToolCalled
    | ToolReturned
    | ApprovalRequested
    | ApprovalDecided
    | Notice
    | GatewayProgress
    | LockWaiting
    | TurnRetrying
    | TurnCompleted
    | TurnFailed
)
Emit = Callable[[Event], None]
# A face's question about a tool call that needs approval: returns the answer, or raises CancelledError or
# KeyboardInterrupt to stop the turn (`core/approvals.py`).
Approver = Callable[[ApprovalRequested], Awaitable[Answer]]


def progress_of(emit: Emit) -> Callable[[str, str, str, float], None]:
    """The gateway's progress reports (`gateway.progress.Progress`) as `GatewayProgress` events."""

    def report(state: str, step: str, detail: str, elapsed: float) -> None:
        emit(GatewayProgress(state, step, detail, elapsed))  # type: ignore[arg-type]

    return report


def ignore(event: Event) -> None:
    """A sink that drops every event (tests, benches, compaction)."""
