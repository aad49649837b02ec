"""What the user sees: the answer on stdout (Markdown on a terminal, plain text when piped), everything
else — reasoning, tool calls, usage, notices — on stderr, so a pipe receives nothing but the answer."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from ..core.events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    GatewayProgress,
    LockWaiting,
    Notice,
    ReasoningDelta,
    TextDelta,
    ToolCalled,
    ToolReturned,
    TurnCompleted,
    TurnFailed,
    TurnRetrying,
)
from ..pipe import write
from .format import record_usage_line
from .markdown_stream import MarkdownStream
from .sanitize import Sanitizer, clean


class Renderer:
    """The terminal face of a turn: call it with each core event (`renderer(event)`).

    Markdown on a terminal (finished blocks printed once, the unfinished one live: see markdown_stream), the
    deltas as they come when piped. Control characters from the model or a tool are shown harmlessly in both
    (see sanitize).

    `refresh_per_second=None` draws a frame per delta instead of on rich's Live thread (tests, bench)."""

    def __init__(
        self,
        out: Console,
        err: Console,
        *,
        markdown: bool,
        show_reasoning: bool = True,
        refresh_per_second: float | None = 10.0,
        hold_text: bool = False,
    ) -> None:
        self.out = out
        self.err = err
        self.markdown = markdown
        self.show_reasoning = show_reasoning
        self.refresh_per_second = refresh_per_second
        self._stream: MarkdownStream | None = None
        self._clean_text = Sanitizer(keep_crlf=not markdown)
        self._clean_reasoning = Sanitizer()
        self._in_segment = False  # answer text since the last tool call
        self._in_reasoning = False
        self._ends_with_newline = True
        self.hold_text = hold_text  # --schema: the answer is printed once checked, not as it streams
        self._asked: dict[str, ApprovalRequested] = {}  # call id → the question (its arguments, for the answer)
        self._gateway: Any = None  # the local gateway's set-up, while it is drawn (ui/progress.py)

    def __call__(self, event: Event) -> None:
        match event:
            case TextDelta(delta=delta):
                if not self.hold_text:
                    self.text(delta)
            case ReasoningDelta(delta=delta):
                self.reasoning(delta)
            case ToolCalled(name=name, arguments=arguments):
                self.tool_called(name, arguments)
            case ToolReturned(name=name, output=output):
                self.tool_returned(name, output)
            case ApprovalRequested(call_id=call_id):
                self.finish()  # the question comes next, below everything shown so far
                self._asked[call_id] = event
            case ApprovalDecided(call_id=call_id):
                from .approval import decided_line

                self.notice(*decided_line(event, self._asked.pop(call_id, None)))
            case Notice(line=line, level=level):
                self.notice(line, "yellow" if level == "warning" else "dim")
            case LockWaiting():
                self.notice(event.line())
            case TurnRetrying():
                self.cut(event)
            case GatewayProgress():
                self.gateway(event)
            case TurnCompleted(record=record):
                self.finish()
                if event.stop_reason == "length":
                    self.notice("(cut off at the output limit: the answer is kept as it is; raise --max-output-tokens"
                                " for a longer one)")  # fmt: skip
                self.usage(record_usage_line(record))
            case TurnFailed():
                self.finish()  # the face prints the failure's line itself (it knows what else to say)

    def gateway(self, event: GatewayProgress) -> None:
        if self._gateway is None:
            from .progress import GatewayView

            self._gateway = GatewayView(self.err)
        self._gateway(event)

    # -- the answer --------------------------------------------------------------------------
    def text(self, delta: str) -> None:
        if not delta:
            return
        self._end_reasoning()
        self._in_segment = True
        self._show(self._clean_text.feed(delta))

    def _show(self, shown: str) -> None:
        if not shown:
            return
        if not self.markdown:
            write(self.out.file, shown)  # a reader that left (`| head -2`): the turn goes on, stored
            self._ends_with_newline = shown.endswith("\n")
            return
        if self._stream is None:
            self._stream = MarkdownStream(self.out, refresh_per_second=self.refresh_per_second)
        self._stream.feed(shown)

    def _close_segment(self) -> None:
        self._show(self._clean_text.flush())
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        elif not self.markdown and self._in_segment and not self._ends_with_newline:
            write(self.out.file, "\n")
            self._ends_with_newline = True
        self._in_segment = False

    def _make_room(self) -> None:
        """Take the live block off a terminal before writing on stderr (the same screen); it comes back with
        the next delta."""
        if self._stream is not None and self.err.is_terminal:
            self._stream.pause()

    # -- around the answer (stderr) ----------------------------------------------------------
    def reasoning(self, delta: str) -> None:
        if not self.show_reasoning or not delta:
            return
        shown = self._clean_reasoning.feed(delta)
        if not shown:
            return
        self._make_room()
        self._in_reasoning = True
        self.err.print(Text(shown, style="dim italic"), end="", soft_wrap=True, highlight=False)

    def _end_reasoning(self) -> None:
        held = self._clean_reasoning.flush()
        if held and self.show_reasoning:
            self.err.print(Text(held, style="dim italic"), end="", soft_wrap=True, highlight=False)
        if self._in_reasoning:
            self.err.print()
            self._in_reasoning = False

    def tool_call(self, line: str) -> None:
        self._end_reasoning()
        self._close_segment()
        self.err.print(Text(f"⚙ {clean(line)}", style="cyan"), highlight=False, soft_wrap=True)

    def tool_result(self, line: str) -> None:
        self._make_room()
        self.err.print(Text(f"  ↳ {clean(line)}", style="dim"), highlight=False, soft_wrap=True)

    # A tool's call and result, in words (--json's face, jsonl.py, keeps them structured).
    def tool_called(self, name: str, arguments: str) -> None:
        from ..tools.display import describe_call

        self.tool_call(describe_call(name, arguments))

    def tool_returned(self, name: str, output: object) -> None:
        from ..tools.display import describe_result

        self.tool_result(describe_result(output))

    def cut(self, event: TurnRetrying) -> None:
        """A stream broke off: what it showed stays, marked as cut, and the new answer follows below it."""
        shown = self._in_segment or self._in_reasoning
        self.finish()
        where = "the answer above was cut off" if shown else "the answer's stream broke off"
        self.notice(f"↻ {where} ({event.reason}); trying again ({event.attempt} of {event.of})", "yellow")

    def notice(self, line: str, style: str = "dim") -> None:
        self._make_room()
        self.err.print(Text(clean(line), style=style), highlight=False, soft_wrap=True)

    def finish(self) -> None:
        self._end_reasoning()
        self._close_segment()

    def usage(self, line: str) -> None:
        self.notice(line)
