"""Streaming Markdown into Console(file=StringIO(), force_terminal=True): what ends on the screen equals the whole
answer rendered once; no live frame is taller than the screen; text from the model never drives the terminal.

The screen is rebuilt from the raw output by a small emulator of the only controls rich's Live writes (with
color_system=None nothing else may appear, which the tests check too)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from rich.console import Console
from rich.markdown import Markdown

from kaiwa.ui.sanitize import Sanitizer, clean
from kaiwa.ui.terminal import Renderer

CONTROL = re.compile(r"\x1b\[(\??[\d;]*)([A-Za-z])")
LIVE_CONTROLS = {"?25l", "?25h", "2K", "1A"}  # hide/show cursor, erase line, cursor up: rich's Live, nothing else


def screen(raw: str, styled: bool = False) -> list[str]:
    """The lines a terminal (with endless scrollback) shows after `raw`; also checks every control is Live's (or,
    when `styled`, a colour). A styled cell keeps its SGR sequence in front of its character."""
    lines: list[list[str]] = [[]]
    row, col, style = 0, 0, ""
    for m in re.finditer(r"\x1b\[[^A-Za-z]*[A-Za-z]|.", raw, re.S):
        token = m.group()
        if token.startswith("\x1b"):
            c = CONTROL.fullmatch(token)
            assert c, f"unexpected control {token!r}"
            if styled and c.group(2) == "m":
                style = "" if c.group(1) in ("", "0") else token
            else:
                assert c.group(1) + c.group(2) in LIVE_CONTROLS, f"unexpected control {token!r}"
                if c.group(2) == "A":
                    row -= 1
                elif c.group(2) == "K":
                    lines[row] = []
            continue
        assert token in "\n\r" or token.isprintable(), f"raw control {token!r} reached the terminal"
        if token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append([])
        elif token == "\r":
            col = 0
        else:
            line = lines[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = style + token
            col += 1
    assert row >= 0
    return trimmed(["".join(line) for line in lines])


def trimmed(lines: list[str]) -> list[str]:
    lines = [line.rstrip(" ") for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def tallest_frame(raw: str) -> int:
    """The most lines a live frame ever covered (rich moves up height-1 lines to redraw a frame)."""
    return max((len(run) // len("\x1b[1A\x1b[2K") + 1 for run in re.findall(r"(?:\x1b\[1A\x1b\[2K)+", raw)), default=0)


def terminal(width: int = 60, height: int = 20, color: bool = False) -> tuple[Console, StringIO]:
    sink = StringIO()
    colors = "truecolor" if color else None
    return Console(file=sink, force_terminal=True, width=width, height=height, color_system=colors), sink


def whole(doc: str, width: int = 60, color: bool = False) -> list[str]:
    out, sink = terminal(width, color=color)
    out.print(Markdown(doc))
    return screen(sink.getvalue(), styled=color)


def streamed(doc: str, step: int, height: int = 20, color: bool = False) -> str:
    out, sink = terminal(height=height, color=color)
    err, _ = terminal()
    r = Renderer(out, err, markdown=True, refresh_per_second=None)
    for i in range(0, len(doc), step):
        r.text(doc[i : i + step])
    r.finish()
    return sink.getvalue()


CODE = "".join(f"    total += {i}  # step {i}\n" + ("\n\n" if i % 9 == 0 else "") for i in range(50))
DOCS = {
    "mixed": (
        "# Title\n\nSome *para* text long enough to wrap at sixty columns, with `code` and **bold** in it.\n\n"
        "- one\n- two\n  continued\n  - nested\n\n1. first\n2. second\n\n```python\ndef f(x):\n" + CODE + "```\n\n"
        "| a | b |\n|---|--:|\n| 1 | 2 |\n| 3 | 4 |\n\n---\n\n> a quote\n> more\n\n## End\n\nLast paragraph."
    ),
    "setext and rules": "Title\n=====\n\npara\nline two\n---\n\n* a\n* b\n\n---\n***\npara after rules\n",
    "nested fences": "1. one\n   ```py\n   x = 1\n   ```\n2. two\n   - sub\n\n> quote\n>\n> - in quote\n\nend\n",
    "tilde fence, text right after": "~~~\n" + CODE + "~~~\ntext right after\n",
    "fence never closed": "intro\n\n```python\n" + CODE,
    "closing fence without newline": "intro\n\n```python\n" + CODE + "```",
    "longer fence holds a shorter one": "````md\n```\ninner\n```\n"
    + CODE
    + "````\n\n| h | i |\n|---|---|\n| 1 | 2 |\n",
    "starts with a list": "- a\n- b\n\npara",
    "starts with a table": "| a | b |\n|--|--|\n| 1 | 2 |\n\nx\n",
    "indented code": "para\n\n    code block\n    more\n\nafter\n",
    "html blocks": "x\n\n<div>\nhi\n</div>\n\npara\n",
    "tall list": "intro\n\n"
    + "".join(f"- item number {i} of a list taller than the screen\n" for i in range(60))
    + "\nend\n",
    "tall paragraph": "words and more words " * 150 + "\n\nafter\n",
}


@pytest.mark.parametrize("name", DOCS)
def test_the_screen_shows_the_whole_answer_rendered_once(name: str) -> None:
    doc = DOCS[name]
    expected = whole(doc)
    steps = (1, 2, 5, 13, 20, len(doc)) if len(doc) < 400 else (5, 13, 20, len(doc))  # frames cost: keep it quick
    for step in steps:
        raw = streamed(doc, step)
        assert screen(raw) == expected, f"{name}: {step}-character deltas"
        assert tallest_frame(raw) < 20, f"{name}: a live frame taller than the screen"


@pytest.mark.parametrize("name", ["mixed", "longer fence holds a shorter one", "tall list"])
def test_colours_match_too(name: str) -> None:
    """Styles included: code printed in slices looks exactly like the code block drawn whole."""
    assert screen(streamed(DOCS[name], 20, color=True), styled=True) == whole(DOCS[name], color=True)


def test_a_long_answer_keeps_every_frame_small() -> None:
    """A tall list, a long code fence: the live part stays within the screen, whatever the answer's length."""
    doc = DOCS["tall list"] + "\n```python\n" + CODE * 4 + "```\n"
    raw = streamed(doc, 20, height=12)
    assert screen(raw) == whole(doc)
    assert 0 < tallest_frame(raw) < 12


def test_windows_line_endings_render_like_unix_ones() -> None:
    doc = "a\r\nb\r\n\r\n# H\r\n\r\ntext\r\n"
    assert screen(streamed(doc, 1)) == whole(doc.replace("\r\n", "\n"))


TRICKS = "\x1b]0;pwned\x07 \x1b[2J\x1b[31mred \x9b1;1H \x1b]52;c;aGk=\x1b\\ bs\x08\x08 \x00 cr\rOVER"


def test_escape_sequences_from_the_model_or_a_tool_never_reach_the_terminal() -> None:
    out, out_sink = terminal()
    err, err_sink = terminal()
    r = Renderer(out, err, markdown=True, refresh_per_second=None)
    r.reasoning("thinking " + TRICKS)
    for i in range(0, len(TRICKS), 5):
        r.text(TRICKS[i : i + 5])
    r.text("\n\n```\n" + TRICKS + "\n```\n")
    r.tool_call("clock " + TRICKS)
    r.tool_result("result " + TRICKS)
    r.notice("notice " + TRICKS)
    r.text("[link " + TRICKS + "](https://x.test/\x1b]8;;evil\x07)")
    r.finish()
    shown = "\n".join(screen(out_sink.getvalue()) + screen(err_sink.getvalue()))  # asserts no raw control
    for raw in ("\x1b]", "\x07", "\x9b", "\x08", "\x00", "\x1b[2J", "\x1b[31m"):
        assert raw not in out_sink.getvalue() + err_sink.getvalue()
    assert shown.count("␛]0;pwned␇") == 7  # shown harmlessly, everywhere
    assert "cr␍OVER" in shown and "␈␈" in shown and "\ufffd1;1H" in shown


def test_plain_output_neutralises_controls_but_keeps_text_byte_for_byte() -> None:
    out, sink = terminal()
    err, _ = terminal()
    out = Console(file=sink, force_terminal=False)
    r = Renderer(out, err, markdown=False)
    for piece in ["héllo\tworld 日本語\r", "\nline two\x1b[2J", "\x07 end\r"]:
        r.text(piece)
    r.finish()
    assert sink.getvalue() == "héllo\tworld 日本語\r\nline two␛[2J␇ end␍\n"


def test_sanitizer_keeps_newline_and_tab_and_shows_every_other_control() -> None:
    assert clean("a\tb\nc") == "a\tb\nc"
    assert clean("\x1b[0m\x07\x7f\x85\x9b") == "␛[0m␇␡\ufffd\ufffd"
    assert clean("x\r\ny\rz") == "x\ny␍z"
    assert clean("x\r\ny", keep_crlf=True) == "x\r\ny"
    s = Sanitizer()
    assert s.feed("a\r") + s.feed("\nb\r") + s.feed("c") + s.feed("\r") + s.flush() == "a\nb␍c␍"


def test_stderr_lines_during_an_answer_leave_it_whole_on_a_shared_terminal() -> None:
    """A notice mid-answer (stderr on the same terminal): the live block steps aside and comes back."""
    sink = StringIO()
    out = Console(file=sink, force_terminal=True, width=60, height=20, color_system=None)
    err = Console(file=sink, force_terminal=True, width=60, height=20, color_system=None)
    r = Renderer(out, err, markdown=True, refresh_per_second=None)
    r.text("# Head\n\nfirst para")
    r.text("graph goes on\n\n- a\n")
    r.notice("mcp server restarted")
    r.text("- b\n\nlast\n")
    r.finish()
    lines = screen(sink.getvalue())
    assert lines.count("mcp server restarted") == 1
    assert [line for line in lines if line != "mcp server restarted"] == whole(
        "# Head\n\nfirst paragraph goes on\n\n- a\n- b\n\nlast\n"
    )
