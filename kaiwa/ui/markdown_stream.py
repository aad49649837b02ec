"""A streamed Markdown answer on a terminal, at a cost per delta that does not grow with the answer.

The text is cut into Markdown blocks by markdown-it (the parser rich's own Markdown uses). A block is finished
once the next block has started; a heading, a rule or a closed code fence as soon as its last line is complete.
Finished blocks are printed once, as ordinary output that scrolls like any other. Only the unfinished block is
redrawn, in a rich Live region that is never taller than the screen: a taller block shows its last lines until it
is finished, and is then printed whole. (Live cannot move the cursor above the screen, so a taller region would
leave torn copies in the scrollback.) An open code fence prints its complete lines in slices as it grows, so one
long code block keeps the live part small too.

Each slice is rendered with rich's Markdown (code slices with the Syntax that Markdown would use), so the output
matches rendering the whole answer at once, with one blank line between blocks as Markdown puts it.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment
from rich.syntax import Syntax

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

FENCE_SLICE = 16  # complete lines of an open code fence printed at once
DRAW_BUDGET = 0.25  # share of the time Live's thread may spend redrawing a block that keeps growing
CODE_THEME = "monokai"  # rich Markdown's default
_SELF_ENDING = {"heading_open", "hr"}  # blocks that nothing after them can extend
_CONTAINERS = {"bullet_list_open", "ordered_list_open", "blockquote_open", "table_open"}
_parser: MarkdownIt | None = None


@dataclass(frozen=True)
class _Block:
    kind: str  # markdown-it's token type: paragraph_open, fence, heading_open, bullet_list_open, table_open, …
    start: int  # first line
    end: int  # one past the last line
    markup: str
    info: str


def _blocks(source: str) -> list[_Block]:
    """The top-level blocks of `source`, the way rich's Markdown will see them."""
    global _parser
    if _parser is None:
        from markdown_it import MarkdownIt

        _parser = MarkdownIt().enable("strikethrough").enable("table")  # as rich.markdown.Markdown does
    return [
        _Block(t.type, t.map[0], t.map[1], t.markup, t.info)
        for t in _parser.parse(source)
        if t.level == 0 and t.nesting >= 0 and t.map
    ]


def _first_kind(blocks: list[_Block], start: int) -> str:
    return next((b.kind for b in blocks if b.start >= start), "")


def _closed_fence(block: _Block, lines: list[str]) -> bool:
    """Whether a fence's last line is its closing fence (an unclosed fence runs to the end of the text)."""
    if block.kind != "fence" or block.end - block.start < 2 or not block.markup:
        return False
    line = lines[block.end - 1].rstrip("\n")
    mark = line.strip()
    indent = len(line) - len(line.lstrip(" "))
    return indent < 4 and len(mark) >= len(block.markup) and mark == block.markup[0] * len(mark)


def _gap_before(kind: str, gap: bool) -> bool:
    """Whether a block of this kind, rendered on its own, needs the blank line that separates it from the last
    one. Rich's Markdown draws a blank line before a list, a quote or a table even at the top of a document, and
    before any other block unless it follows a rule."""
    return gap and kind not in _CONTAINERS


def _lexer(block: _Block) -> str:
    return block.info.partition(" ")[0] or "text"  # as rich.markdown.CodeBlock does


def _code(lexer: str, code: str, top: int, bottom: int) -> Syntax:
    """A slice of a code block, drawn as rich's Markdown draws a whole one (padding 1 all round)."""
    return Syntax(code, lexer, theme=CODE_THEME, word_wrap=True, padding=(top, 1, bottom, 1))


class _Lines:
    """Lines already rendered, printed as they are."""

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines:
            yield from line
            yield Segment.line()


class _LiveView:
    """The unfinished block, rendered whenever Live draws a frame, cut to the screen's last lines if taller.

    One object for the stream's life, its `state` (text, lexer of a fence being sliced, blank line before)
    replaced in one assignment, so a frame drawn on Live's thread or below a print always shows the latest.
    A frame whose state has not changed is not drawn again; with a `budget` (a share of the time, for Live's
    thread), a block that only grew is redrawn no more often than keeps drawing within that share — so one huge
    block (a 500-row table) slows its own frames down rather than the stream."""

    def __init__(self, budget: float | None) -> None:
        self.state: tuple[str, str | None, bool] = ("", None, False)
        self.budget = budget
        self._drawn: tuple[tuple[str, str | None, bool], int, int] | None = None
        self._lines: list[list[Segment]] = []
        self._next_draw = 0.0  # perf_counter before which a grown block keeps its last frame

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        state, size = self.state, (options.max_width, options.size.height)
        if self._drawn is not None and self._drawn[1:] == size:
            last = self._drawn[0]
            grown = state[1:] == last[1:] and state[0].startswith(last[0])
            if state == last or (grown and time.perf_counter() < self._next_draw):
                yield _Lines(self._lines)
                return
        began = time.perf_counter()
        self._lines = self._render(console, options, *state)
        self._drawn = (state, *size)
        if self.budget:
            ended = time.perf_counter()
            self._next_draw = ended + (ended - began) * (1 / self.budget - 1)
        yield _Lines(self._lines)

    @staticmethod
    def _render(
        console: Console, options: ConsoleOptions, source: str, lexer: str | None, gap: bool
    ) -> list[list[Segment]]:
        if not source.strip():
            return []
        if lexer is not None:  # the rest of a code fence whose first lines are printed
            renderable: RenderableType = _code(lexer, source.partition("\n")[2].rstrip(), 0, 1)
            gap = False
        else:
            renderable = Markdown(source)
            first = next((t.type for t in renderable.parsed if t.level == 0 and t.nesting >= 0), "")
            gap = _gap_before(first, gap)
        lines = console.render_lines(renderable, options.update(height=None), pad=False)
        if lines and gap:
            lines.insert(0, [])
        return lines[-max(1, options.size.height - 1) :]


class MarkdownStream:
    """One stretch of answer (up to a tool call or the end): feed() deltas, close() at the end.

    `refresh_per_second=None` draws one frame per delta (deterministic: tests, bench); otherwise rich's Live
    thread draws the unfinished block at that rate and a delta costs only the cut into blocks."""

    def __init__(self, console: Console, *, refresh_per_second: float | None = 10.0) -> None:
        self.console = console
        self.refresh_per_second = refresh_per_second
        self._tail = ""  # text not printed yet: the unfinished block (and the line being written)
        self._lexer: str | None = None  # set while the tail is a code fence whose first lines are printed
        self._gap = False  # a blank line goes before the next block
        self._live: Live | None = None
        self._view = _LiveView(None if refresh_per_second is None else DRAW_BUDGET)
        self._pending: list[_Lines] = []  # finished blocks rendered, to print at once

    def feed(self, text: str) -> None:
        if not text:
            return
        self._tail += text
        if "\n" in text:
            self._advance(final=False)
        self._view.state = (self._tail, self._lexer, self._gap)
        sync = self.refresh_per_second is None
        if self._live is None:
            self._flush()
            self._live = Live(
                self._view,
                console=self.console,
                auto_refresh=not sync,
                refresh_per_second=self.refresh_per_second or 10.0,
                vertical_overflow="crop",
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start(refresh=sync)
        else:
            if self._pending:
                self._flush()  # printing redraws the live block below what is printed
            elif sync:
                self._live.refresh()

    def pause(self) -> None:
        """Take the live block off the screen (something else is about to be written); the next feed redraws it."""
        if self._live is not None:
            self._view.state = ("", None, False)  # so stopping draws nothing, then clears the region
            self._live.stop()
            self._live = None

    def close(self) -> None:
        """Print what is left as finished."""
        self.pause()
        self._advance(final=True)
        self._flush()
        self._tail, self._lexer, self._gap = "", None, False

    def _flush(self) -> None:
        if not self._pending:
            return
        # Rich's Live renders the frame below a print outside its lock, so a frame drawn meanwhile by its
        # thread would leave the cursor where this print does not expect it (torn lines): hold the lock.
        with getattr(self._live, "_lock", None) or nullcontext():
            self.console.print(*self._pending)
        self._pending.clear()

    # -- cutting the text into blocks -----------------------------------------------------------
    def _advance(self, final: bool) -> None:
        if final:
            done = len(self._tail)
            source = self._tail if self._tail.endswith("\n") else self._tail + "\n"
        else:
            done = self._tail.rfind("\n") + 1  # only complete lines can end a block
            source = self._tail[:done]
        if not source.strip():
            return
        lines = [line + "\n" for line in source[:-1].split("\n")]
        blocks = _blocks(source)
        if final:
            cut = len(lines)
        elif not blocks:
            return
        else:
            last = blocks[-1]
            cut = last.end if last.kind in _SELF_ENDING or _closed_fence(last, lines) else last.start
        if cut:
            self._print_finished(lines[:cut], [b for b in blocks if b.start < cut])
        if final:
            return
        self._tail = "".join(lines[cut:]) + self._tail[done:]
        if blocks and blocks[-1].start == cut and blocks[-1].kind == "fence":
            self._slice_fence(lines[cut:], blocks[-1])

    def _slice_fence(self, lines: list[str], fence: _Block) -> None:
        """Print the complete lines of an open top-level fence but the last non-blank one and what follows it,
        so the fence's last slice is never empty and its trailing blank lines are trimmed as Markdown trims them."""
        opener = lines[0]
        if not opener.startswith(fence.markup):  # an indented fence: its lines lose that indent; leave it whole
            return
        content = lines[1:]
        keep = max((i for i, line in enumerate(content) if line.strip()), default=0)
        if keep < FENCE_SLICE:
            return
        first = self._lexer is None
        self._lexer = _lexer(fence)
        code = "".join(content[:keep])[:-1]  # less the newline that ends it; blank lines inside are kept
        self._emit(_code(self._lexer, code, 1 if first else 0, 0), first and self._gap)
        self._tail = opener + "".join(content[keep:]) + self._tail[len("".join(lines)) :]

    def _print_finished(self, lines: list[str], blocks: list[_Block]) -> None:
        start = 0
        if self._lexer is not None and blocks and blocks[0].start == 0 and blocks[0].kind == "fence":
            fence = blocks[0]  # the rest of a fence whose first lines are printed
            stop = fence.end - (1 if _closed_fence(fence, lines) else 0)
            self._emit(_code(self._lexer, "".join(lines[1:stop]).rstrip(), 0, 1), False)
            self._lexer, self._gap, start = None, True, fence.end
        source = "".join(lines[start:])
        if source.strip():  # (an HTML block draws nothing but, as in a whole document, still a blank line)
            self._emit(Markdown(source), _gap_before(_first_kind(blocks, start), self._gap))
            self._gap = not any(b.kind == "hr" for b in blocks[-1:])

    def _emit(self, renderable: RenderableType, gap: bool) -> None:
        lines = self.console.render_lines(renderable, self.console.options, pad=False)
        if gap:
            lines.insert(0, [])
        if lines:
            self._pending.append(_Lines(lines))
