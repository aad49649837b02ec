"""`--json`: the turn as JSON Lines on stdout, one object per line, each with a `type`, for scripts and `jq`.

    {"type": "session", "session_id": …, "model": …, "new": true|false}     first
    {"type": "reasoning", "delta": …}  {"type": "text", "delta": …}         as the answer streams
    {"type": "tool_call", "name": …, "arguments": {…}}  {"type": "tool_result", "name": …, "output": …}
    {"type": "done", "session_id": …, "model": …, "text": …, "usage": {…}}  last, on success
    {"type": "error", "message": …, "hint": …}                               last, on failure (same exit code)

Nothing else reaches stdout; stderr carries only warnings (and the failure's one line).
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from ..errors import KaiwaError


def _arguments(raw: str) -> Any:
    """Tool arguments as a JSON object (what the model sent was JSON text); kept as text if it is not JSON."""
    try:
        return json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return raw


def _output(output: Any) -> Any:
    """A tool's output as JSON: strings stay strings; objects (MCP content, pydantic models) as their data."""
    if isinstance(output, str | int | float | bool) or output is None:
        return output
    if hasattr(output, "model_dump"):
        return output.model_dump(mode="json")
    if isinstance(output, list | tuple):
        return [_output(o) for o in output]
    if isinstance(output, dict):
        return {str(k): _output(v) for k, v in output.items()}
    return str(output)


class JsonLinesRenderer:
    """The Renderer API (text, reasoning, tool_called, tool_returned, notice, usage, finish, answer) as JSON Lines."""

    def __init__(self, out: TextIO | None = None, err: Console | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or Console(stderr=True)
        self.answer = ""

    def emit(self, kind: str, **fields: Any) -> None:
        self.out.write(json.dumps({"type": kind, **fields}, ensure_ascii=False, default=str) + "\n")
        self.out.flush()

    # -- the turn ------------------------------------------------------------------------------
    def session(self, session_id: str, model: str, new: bool) -> None:
        self.emit("session", session_id=session_id, model=model, new=new)

    def text(self, delta: str) -> None:
        if delta:
            self.answer += delta
            self.emit("text", delta=delta)

    def reasoning(self, delta: str) -> None:
        if delta:
            self.emit("reasoning", delta=delta)

    def tool_called(self, name: str, arguments: str) -> None:
        self.emit("tool_call", name=name, arguments=_arguments(arguments))

    def tool_returned(self, name: str, output: Any) -> None:
        self.emit("tool_result", name=name, output=_output(output))

    def tool_call(self, line: str) -> None:  # the terminal's preformatted form: nothing to add here
        pass

    def tool_result(self, line: str) -> None:
        pass

    def notice(self, line: str, style: str = "dim") -> None:
        """Notices (a replaced byte, a lock being waited for, a gateway starting) stay on stderr: stdout is JSON
        only. A plain successful turn has none; its usage line and SESSION_ID are in `done` instead."""
        self.err.print(Text(line, style=style), highlight=False, soft_wrap=True)

    def usage(self, line: str) -> None:
        pass

    def finish(self) -> None:
        pass

    # -- the end ---------------------------------------------------------------------------------
    def done(self, session_id: str, record: Any, **extra: Any) -> None:
        usage = {
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "reasoning_tokens": record.reasoning_tokens,
            "cached_tokens": record.cached_tokens,
            "cost": record.cost,
        }
        self.emit("done", session_id=session_id, model=record.model, text=self.answer, usage=usage, **extra)

    def error(self, exc: KaiwaError) -> None:
        self.emit("error", message=exc.message, hint=exc.hint or None)
