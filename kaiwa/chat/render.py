"""What the user sees: the answer on stdout (Markdown on a terminal, plain text when piped), everything
else — reasoning, tool calls, usage, notices — on stderr, so a pipe receives nothing but the answer."""

from __future__ import annotations

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text


class Renderer:
    def __init__(self, out: Console, err: Console, *, markdown: bool, show_reasoning: bool = True) -> None:
        self.out = out
        self.err = err
        self.markdown = markdown
        self.show_reasoning = show_reasoning
        self._segment = ""  # answer text since the last tool call
        self._live: Live | None = None
        self._in_reasoning = False
        self._ends_with_newline = True
        self.answer = ""  # the whole answer of the turn

    # -- the answer --------------------------------------------------------------------------
    def text(self, delta: str) -> None:
        if not delta:
            return
        self._end_reasoning()
        self._segment += delta
        self.answer += delta
        if not self.markdown:
            self.out.file.write(delta)
            self.out.file.flush()
            self._ends_with_newline = delta.endswith("\n")
            return
        if self._live is None:
            self._live = Live(console=self.out, refresh_per_second=10, vertical_overflow="visible")
            self._live.start()
        self._live.update(Markdown(self._segment))

    def _close_segment(self) -> None:
        if self._live is not None:
            self._live.update(Markdown(self._segment))
            self._live.stop()
            self._live = None
        elif not self.markdown and self._segment and not self._ends_with_newline:
            self.out.file.write("\n")
            self.out.file.flush()
            self._ends_with_newline = True
        self._segment = ""

    # -- around the answer (stderr) ----------------------------------------------------------
    def reasoning(self, delta: str) -> None:
        if not self.show_reasoning or not delta:
            return
        self._in_reasoning = True
        self.err.print(Text(delta, style="dim italic"), end="", soft_wrap=True, highlight=False)

    def _end_reasoning(self) -> None:
        if self._in_reasoning:
            self.err.print()
            self._in_reasoning = False

    def tool_call(self, line: str) -> None:
        self._end_reasoning()
        self._close_segment()
        self.err.print(Text(f"⚙ {line}", style="cyan"), highlight=False, soft_wrap=True)

    def tool_result(self, line: str) -> None:
        self.err.print(Text(f"  ↳ {line}", style="dim"), highlight=False, soft_wrap=True)

    def notice(self, line: str, style: str = "dim") -> None:
        self.err.print(Text(line, style=style), highlight=False, soft_wrap=True)

    def finish(self) -> None:
        self._end_reasoning()
        self._close_segment()

    def usage(self, line: str) -> None:
        self.notice(line)


def usage_line(
    model: str, input_tokens: int, output_tokens: int, reasoning: int, cached: int, cost: float | None
) -> str:
    parts = [f"{input_tokens:,} in" + (f" ({cached:,} cached)" if cached else "")]
    parts.append(f"{output_tokens:,} out" + (f" ({reasoning:,} reasoning)" if reasoning else ""))
    if cost is not None:
        parts.append(f"${cost:.6f}".rstrip("0").rstrip(".") if cost else "$0")
    return f"{model} · " + " · ".join(parts)
