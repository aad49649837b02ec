"""Rendering into a Console(file=StringIO()): the answer on stdout, everything else on stderr."""

from io import StringIO

from rich.console import Console

from kaiwa.ui.format import usage_line
from kaiwa.ui.terminal import Renderer


def consoles(terminal: bool) -> tuple[Console, Console, StringIO, StringIO]:
    out, err = StringIO(), StringIO()
    return (
        Console(file=out, force_terminal=terminal, width=60, color_system=None),
        Console(file=err, force_terminal=terminal, width=60, color_system=None),
        out,
        err,
    )


def test_plain_output_is_exactly_the_answer() -> None:
    o, e, out, err = consoles(False)
    r = Renderer(o, e, markdown=False)
    r.reasoning("thinking…")
    for piece in ["# Title", "\n\n**bold** ", "text"]:
        r.text(piece)
    r.tool_call("clock(zone='Asia/Tokyo')")
    r.text("after")
    r.finish()
    assert out.getvalue() == "# Title\n\n**bold** text\nafter\n"
    assert "thinking…" in err.getvalue() and "clock(zone='Asia/Tokyo')" in err.getvalue()


def test_markdown_is_rendered_on_a_terminal() -> None:
    o, e, out, err = consoles(True)
    r = Renderer(o, e, markdown=True)
    r.text("# Title\n\n")
    r.text("- **one**\n- two\n")
    r.finish()
    shown = out.getvalue()
    assert "Title" in shown and "one" in shown
    assert "**one**" not in shown and "# Title" not in shown  # rendered, not raw
    assert err.getvalue() == ""


def test_hidden_reasoning_prints_nothing() -> None:
    o, e, out, err = consoles(False)
    r = Renderer(o, e, markdown=False, show_reasoning=False)
    r.reasoning("secret plan")
    r.text("answer")
    r.finish()
    assert "secret plan" not in err.getvalue() + out.getvalue()


def test_usage_line_names_every_figure() -> None:
    line = usage_line("m", 1200, 30, reasoning=12, cached=1000, cost=0.0015)
    assert line == "m · 200 in (1,000 cached) · 30 out (12 reasoning) · $0.0015"  # "in": at full price
    written = usage_line("m", 1200, 30, reasoning=0, cached=900, cost=None, written=250)
    assert written == "m · 50 in (900 cached, 250 written) · 30 out"
    assert usage_line("m", 5, 2, 0, 0, None) == "m · 5 in · 2 out"
