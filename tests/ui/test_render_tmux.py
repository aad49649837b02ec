"""An answer several screens tall, streamed into a real terminal (tmux, 100x30) the way kaiwa streams it (rich's
Live thread at 10 Hz, deltas of 20 characters), then read back as a person scrolling up would: the scrollback must
hold the answer exactly as Markdown renders it once — every section heading once, no torn or repeated lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from rich.markdown import Markdown

REPO = Path(__file__).resolve().parents[2]
END = "END-OF-ANSWER"
WIDTH, HEIGHT = 100, 30

STREAMER = f"""
import sys, time
from rich.console import Console
from kaiwa.ui.terminal import Renderer

doc = open(sys.argv[1], encoding="utf-8").read()
out = Console(soft_wrap=False)  # as kaiwa's one-shot makes it
renderer = Renderer(out, Console(stderr=True), markdown=out.is_terminal)
for i in range(0, len(doc), 20):
    renderer.text(doc[i : i + 20])
    time.sleep(0.002)
renderer.finish()
print("{END}")
"""


def long_answer() -> str:
    """About a dozen screens: sections with paragraphs, lists, tables, code — one list and one code fence
    each taller than the terminal."""
    parts = []
    for n in range(1, 13):
        parts.append(f"## Section {n:02d}: how the stream is drawn")
        parts.append(f"Paragraph {n} explains a **point** with `inline code` and enough words to wrap once. " * 3)
        items = 40 if n == 4 else 5
        parts.append("\n".join(f"- item {n}.{i}: a point that fits on one line" for i in range(items)))
        lines = 70 if n == 7 else 12
        body = "\n".join(f"    total += {i}  # section {n}, line {i}" for i in range(lines))
        parts.append(f"```python\ndef section_{n}(total: int) -> int:\n{body}\n    return total\n```")
        parts.append("| key | value |\n|---|---:|\n" + "\n".join(f"| k{n}.{i} | {i * n} |" for i in range(4)))
    return "\n\n".join(parts) + "\n"


def rendered_once(doc: str) -> list[str]:
    sink = StringIO()
    Console(file=sink, force_terminal=True, width=WIDTH, color_system=None).print(Markdown(doc))
    return [line.rstrip() for line in sink.getvalue().split("\n")]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_a_long_answer_leaves_a_clean_scrollback_in_tmux(tmp_path: Path) -> None:
    doc = long_answer()
    (tmp_path / "answer.md").write_text(doc, encoding="utf-8")
    (tmp_path / "stream.py").write_text(STREAMER, encoding="utf-8")
    socket = f"kaiwa-render-{os.getpid()}"
    tmux = ["tmux", "-u", "-L", socket, "-f", "/dev/null"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    env.pop("NO_COLOR", None)
    command = f"{sys.executable} {tmp_path / 'stream.py'} {tmp_path / 'answer.md'}; sleep 600"
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "render", "-x", str(WIDTH), "-y", str(HEIGHT), command], env=env, check=True
    )
    try:
        subprocess.run([*tmux, "set-option", "-t", "render", "history-limit", "20000"], check=True)
        deadline = time.monotonic() + 120
        screen = ""
        while END not in screen and time.monotonic() < deadline:
            time.sleep(0.5)
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "render"], capture_output=True, text=True, check=True
            ).stdout
        scrollback = subprocess.run(
            [*tmux, "capture-pane", "-p", "-S", "-", "-E", "-", "-t", "render"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    assert END in screen, f"the stream did not finish: {screen[-800:]}"
    lines = [line.rstrip() for line in scrollback.split("\n")]
    lines = lines[: lines.index(END)]
    while lines and not lines[-1]:
        lines.pop()
    for n in range(1, 13):
        heading = f"Section {n:02d}: how the stream is drawn"
        assert sum(heading in line for line in lines) == 1, f"{heading!r} appears {sum(heading in x for x in lines)}x"
    expected = rendered_once(doc)
    while expected and not expected[-1]:
        expected.pop()
    assert len(lines) > 10 * HEIGHT  # several screens, really
    assert lines == expected  # nothing torn, nothing repeated, nothing missing
