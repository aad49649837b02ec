"""`--json`: the turn as JSON Lines on stdout, one object per line, each with a `type`, for scripts and `jq`.
Each core event (`core/events.py`) becomes a line typed in `jsonl_schema.py` (its models are the format's one
definition; `chat.py schema` prints it as a JSON Schema). Nothing else reaches stdout; stderr carries only notices
(and the failure's one line).
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from rich.console import Console
from rich.text import Text

from ..core.events import (
    NO_TERMINAL,
    ApprovalDecided,
    ApprovalRequested,
    Event,
    GatewayProgress,
    LockWaiting,
    Notice,
    ReasoningDelta,
    SessionOpened,
    TextDelta,
    ToolCalled,
    ToolReturned,
    TurnCompleted,
    TurnFailed,
    TurnRetrying,
)
from ..core.history import json_arguments, json_output
from ..pipe import write
from . import jsonl_schema as lines
from .approval import decided_line
from .progress import GatewayView
from .sanitize import clean


class JsonLines:
    """The JSON Lines face: call it with each core event."""

    def __init__(self, out: TextIO | None = None, err: Console | None = None, *, has_schema: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or Console(stderr=True)
        self.has_schema = has_schema  # --schema: `done` carries the checked value as `output`
        self._gateway: GatewayView | None = None

    def emit(self, line: lines.LineModel, leave_out: frozenset[str] = frozenset()) -> None:
        """One line: the model's fields in their order (`default=str`: a tool's odd output is shown, not lost)."""
        data = line.model_dump(exclude=set(leave_out) if leave_out else None)
        write(self.out, json.dumps(data, ensure_ascii=False, default=str) + "\n")

    def __call__(self, event: Event) -> None:
        match event:
            case SessionOpened(session_id=sid, model=model, new=new):
                self.emit(lines.SessionLine(session_id=sid, model=model, new=new))
            case TextDelta(delta=delta):
                self.emit(lines.TextLine(delta=delta))
            case ReasoningDelta(delta=delta):
                self.emit(lines.ReasoningLine(delta=delta))
            case ToolCalled(name=name, arguments=arguments):
                self.emit(lines.ToolCallLine(name=name, arguments=json_arguments(arguments)))
            case ToolReturned(name=name, output=output):
                self.emit(lines.ToolResultLine(name=name, output=json_output(output)))
            case ApprovalRequested(call_id=call_id, server=server, tool=tool, arguments=arguments):
                self.emit(lines.ApprovalRequestedLine(call_id=call_id, server=server, tool=tool,
                          arguments=json_arguments(arguments), read_only=event.read_only))  # fmt: skip
            case ApprovalDecided(call_id=call_id, server=server, tool=tool, decision=decision, by=by):
                self.emit(lines.ApprovalDecidedLine(call_id=call_id, server=server, tool=tool, decision=decision,
                          by=by))  # fmt: skip
                if by == NO_TERMINAL:  # stdout is for JSON: the one line that says how to allow it goes to stderr
                    self.err.print(Text(decided_line(event, None)[0], style="yellow"), highlight=False,
                                   soft_wrap=True)  # fmt: skip
            case Notice(line=line, level=level):
                # Notices (a replaced byte, a gateway starting) stay on stderr: stdout is JSON only.
                self.err.print(Text(clean(line), style="yellow" if level == "warning" else "dim"), highlight=False,
                               soft_wrap=True)  # fmt: skip
            case LockWaiting():
                self.err.print(Text(event.line(), style="dim"), highlight=False, soft_wrap=True)
            case TurnRetrying(attempt=attempt, of=of, reason=reason, stage=stage, text=text, kept=kept):
                self.emit(lines.RetryLine(attempt=attempt, of=of, reason=reason, stage=stage, text=text,
                                          kept=list(kept)))  # fmt: skip
            case GatewayProgress():  # on stderr, as on a terminal: stdout is JSON only
                if self._gateway is None:
                    self._gateway = GatewayView(self.err)
                self._gateway(event)
            case TurnCompleted():
                self.done(event)
            case TurnFailed():
                self.error(event)

    def done(self, event: TurnCompleted) -> None:
        record = event.record
        usage = lines.Usage(
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            reasoning_tokens=record.reasoning_tokens,
            cached_tokens=record.cached_tokens,
            cache_write_tokens=record.cache_write_tokens,
            cost=record.cost,
        )
        done = lines.DoneLine(session_id=event.session_id, model=record.model, text=event.answer, usage=usage,
                              stop_reason=event.stop_reason, attempts=record.attempts, output=event.output)  # fmt: skip
        self.emit(done, frozenset() if self.has_schema else frozenset({"output"}))

    def error(self, event: TurnFailed) -> None:
        """The one writer of the `error` line: every failure, in a turn or before one, ends a `--json` run so."""
        self.emit(lines.ErrorLine(kind=event.kind, message=event.message, hint=event.hint_in() or None,
                                  session_id=event.session_id))  # fmt: skip
