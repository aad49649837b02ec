"""`--json`: the turn as JSON Lines on stdout, one object per line, each with a `type`, for scripts and `jq`.
The core's events, serialised (`core/events.py`):

    {"type": "session", "session_id": …, "model": …, "new": true|false}     first
    {"type": "reasoning", "delta": …}  {"type": "text", "delta": …}         as the answer streams
    {"type": "tool_call", "name": …, "arguments": {…}}  {"type": "tool_result", "name": …, "output": …}
    {"type": "approval", "state": "requested", "call_id": …, "server": …, "tool": …, "arguments": {…},
     "read_only": true|false|null}                                          a call waits for approval
    {"type": "approval", "state": "decided", "call_id": …, "server": …, "tool": …,
     "decision": "allow"|"allow_tool"|"decline", "by": …}                   what became of it
    {"type": "retry", "attempt": N, "of": M, "reason": …, "stage": …, "text": …, "kept": [tool names]}
                                                                             a stream broke off and is tried
                                                                             again: drop the text and reasoning
                                                                             deltas since the turn began or its
                                                                             last tool_result; `text` is what stays
    {"type": "done", "session_id": …, "model": …, "text": …, "usage": {…}, "stop_reason": "stop"|"length",
     "attempts": N}                                                          last, on success
    {"type": "error", "kind": …, "message": …, "hint": …, "session_id": …}   last, on failure (same exit code);
                                                                             session_id null: no session stored
                                                                             (a new one exists once `done` arrives)

Nothing else reaches stdout; stderr carries only notices (and the failure's one line).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from ..core.events import (
    NO_TERMINAL,
    ApprovalDecided,
    ApprovalRequested,
    Event,
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
from .approval import decided_line
from .sanitize import clean


class JsonLines:
    """The JSON Lines face: call it with each core event."""

    def __init__(self, out: TextIO | None = None, err: Console | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or Console(stderr=True)
        self.has_schema = False  # --schema: `done` carries the checked value as `output`

    def emit(self, kind: str, /, **fields: Any) -> None:
        write(self.out, json.dumps({"type": kind, **fields}, ensure_ascii=False, default=str) + "\n")

    def __call__(self, event: Event) -> None:
        match event:
            case SessionOpened(session_id=sid, model=model, new=new):
                self.emit("session", session_id=sid, model=model, new=new)
            case TextDelta(delta=delta) | ReasoningDelta(delta=delta):
                self.emit(event.type, delta=delta)
            case ToolCalled(name=name, arguments=arguments):
                self.emit("tool_call", name=name, arguments=json_arguments(arguments))
            case ToolReturned(name=name, output=output):
                self.emit("tool_result", name=name, output=json_output(output))
            case ApprovalRequested(call_id=call_id, server=server, tool=tool, arguments=arguments):
                self.emit("approval", state="requested", call_id=call_id, server=server, tool=tool,
                          arguments=json_arguments(arguments), read_only=event.read_only)  # fmt: skip
            case ApprovalDecided(call_id=call_id, server=server, tool=tool, decision=decision, by=by):
                self.emit("approval", state="decided", call_id=call_id, server=server, tool=tool, decision=decision,
                          by=by)  # fmt: skip
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
                self.emit("retry", attempt=attempt, of=of, reason=reason, stage=stage, text=text, kept=list(kept))
            case TurnCompleted():
                self.done(event)
            case TurnFailed():
                self.error(event)

    def done(self, event: TurnCompleted) -> None:
        record = event.record
        usage = {
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "reasoning_tokens": record.reasoning_tokens,
            "cached_tokens": record.cached_tokens,  # read from the prompt cache (part of input_tokens)
            "cache_write_tokens": record.cache_write_tokens,  # written to it (part of input_tokens too)
            "cost": record.cost,
        }
        extra = {"output": event.output} if self.has_schema else {}
        self.emit("done", session_id=event.session_id, model=record.model, text=event.answer, usage=usage,
                  stop_reason=event.stop_reason, attempts=record.attempts, **extra)  # fmt: skip

    def error(self, event: TurnFailed) -> None:
        self.emit("error", kind=event.kind, message=event.message, hint=event.hint or None)
