"""What drawing a streamed Markdown answer on a terminal costs per delta, against the old renderer, in one run.

    uv run python bench/bench_render.py [--sizes 5,20,100] [--delta 20]

A realistic mixed answer (headings, paragraphs with inline marks, bullet and numbered lists, Python code fences,
tables, quotes) of each size is streamed in 20-character deltas into Console(file=/dev/null, force_terminal=True,
width=100, height=30), as a terminal of 100x30.

- old: the renderer kaiwa had before: one rich Live for the answer, `update(Markdown(whole answer so far))` on
  every delta (kept here, verbatim in spirit, as the baseline).
- new: kaiwa.ui.terminal.Renderer (finished blocks printed once, the unfinished block live).

Two ways of drawing, each for both renderers:
- "frame/delta": a frame drawn after every delta (Live without its thread): the worst case, and deterministic.
- "10 Hz": as shipped, rich's Live thread draws 10 frames a second while deltas arrive at --rate a second
  (100: a fast model, about 500 tokens/s); CPU of all threads, per delta.
The old renderer at 100 KB (and above 5 KB in 10 Hz mode) would take many minutes: it is SAMPLED — 40 deltas timed
at each of 10 evenly spaced points of the answer (its cost grows with the length so far), averaged, and the whole
stream's total extrapolated from that. Every other figure is a full run. "tail": the mean over the last 10 %
(for a sampled run: the point at 95 %).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.live import Live  # noqa: E402
from rich.markdown import Markdown  # noqa: E402

from kaiwa.ui.terminal import Renderer  # noqa: E402

VOCABULARY = (
    "the proxy session token stream model answer render block terminal cache request latency budget tool history "
    "store turn agent reply schema index query cursor buffer delta width frame"
)
WORDS = VOCABULARY.split()


def answer(size: int, seed: int = 9) -> str:
    """A long model answer of about `size` bytes, mixing what models write."""
    rnd = random.Random(seed)

    def sentence() -> str:
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(6, 16))]
        i = rnd.randrange(len(words))
        words[i] = rnd.choice([f"**{words[i]}**", f"`{words[i]}()`", f"*{words[i]}*", f"[{words[i]}](https://x.test)"])
        return " ".join(words).capitalize() + "."

    def paragraph() -> str:
        return " ".join(sentence() for _ in range(rnd.randint(2, 5)))

    def code() -> str:
        lines = ["```python", f"def step_{rnd.randint(1, 99)}(items: list[str]) -> dict[str, int]:"]
        lines.append('    """Count what comes through."""')
        lines.append("    counts: dict[str, int] = {}")
        for _ in range(rnd.randint(6, 20)):
            w = rnd.choice(WORDS)
            lines.append(rnd.choice([f"    counts['{w}'] = counts.get('{w}', 0) + 1", f"    # {sentence()}", ""]))
        lines += ["    return counts", "```"]
        return "\n".join(lines)

    def table() -> str:
        rows = ["| name | kind | size | note |", "|---|---|--:|---|"]
        rows += [
            f"| {rnd.choice(WORDS)} | {rnd.choice(WORDS)} | {rnd.randint(1, 9999)} | {sentence()} |" for _ in range(6)
        ]
        return "\n".join(rows)

    def bullets() -> str:
        items = [f"- {sentence()}" for _ in range(rnd.randint(3, 6))]
        items.insert(2, f"  - {sentence()}")
        return "\n".join(items)

    def numbered() -> str:
        return "\n".join(f"{i}. {sentence()}" for i in range(1, rnd.randint(3, 7)))

    parts, section = [], 0
    while sum(len(p) + 2 for p in parts) < size:
        section += 1
        parts.append(f"## {section}. {sentence()[:40].rstrip('.')}")
        for make in rnd.sample([paragraph, paragraph, bullets, numbered, code, table, paragraph], k=5):
            parts.append(make())
        if section % 3 == 0:
            parts.append("> " + sentence())
    return "\n\n".join(parts)[:size] + "\n"


SAMPLE = 40  # deltas timed at each sampled point


def console(sink) -> Console:  # type: ignore[no-untyped-def]
    return Console(file=sink, force_terminal=True, width=100, height=30, color_system="truecolor")


class OldRenderer:
    """kaiwa's renderer before: Markdown(whole segment) inside one Live, on every delta."""

    def __init__(self, out: Console, frame_per_delta: bool) -> None:
        self.frame_per_delta = frame_per_delta
        self._segment = ""
        self._live = Live(
            console=out, auto_refresh=not frame_per_delta, refresh_per_second=10, vertical_overflow="visible"
        )

    def start(self, prefix: str = "") -> None:
        self._segment = prefix
        self._live.start()

    def text(self, delta: str) -> None:
        self._segment += delta
        self._live.update(Markdown(self._segment), refresh=self.frame_per_delta)

    def finish(self) -> None:
        self._live.update(Markdown(self._segment))
        self._live.stop()


def cpu() -> float:
    return time.process_time()  # every thread of the process (Live's refresh thread too)


def timed(feed: Callable[[str], None], finish: Callable[[], None], pieces: list[str], rate: float | None):
    """CPU ms per delta over all `pieces` (the closing `finish` included) and over the last 10 % of them;
    deltas sent `rate` a second (None: as fast as they go)."""
    tail_from = int(len(pieces) * 0.9)
    began, wall, tail_began = cpu(), time.perf_counter(), 0.0
    for i, piece in enumerate(pieces):
        if i == tail_from:
            tail_began = cpu()
        feed(piece)
        if rate is not None:
            ahead = wall + (i + 1) / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    finish()
    end = cpu()
    return (end - began) * 1000 / len(pieces), (end - tail_began) * 1000 / (len(pieces) - tail_from)


def run_new(pieces: list[str], rate: float | None, sink) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    r = Renderer(console(sink), console(sink), markdown=True, refresh_per_second=None if rate is None else 10)
    return timed(r.text, r.finish, pieces, rate)


def run_old(pieces: list[str], rate: float | None, sink, sampled: bool) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    if not sampled:
        r = OldRenderer(console(sink), frame_per_delta=rate is None)
        r.start()
        return timed(r.text, r.finish, pieces, rate)
    per_point: list[float] = []
    for k in range(10):  # at 5 %, 15 %, … 95 % of the answer: its cost grows with the length so far
        at = int(len(pieces) * (k + 0.5) / 10)
        r = OldRenderer(console(sink), frame_per_delta=rate is None)
        r.start("".join(pieces[:at]))
        mean, _ = timed(r.text, lambda: None, pieces[at : at + SAMPLE], rate)
        per_point.append(mean)
        r.finish()
    return sum(per_point) / len(per_point), per_point[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5,20,100", help="answer sizes in KB")
    parser.add_argument("--delta", type=int, default=20, help="characters per delta")
    parser.add_argument("--rate", type=float, default=100.0, help="deltas a second in the 10 Hz mode")
    parser.add_argument("--full-old-up-to", type=int, default=20, help="KB up to which the old renderer runs fully")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}; bytecode writing {'off' if sys.dont_write_bytecode else 'on'} "
        "(imports are outside the timings)"
    )
    print(f"{args.delta}-character deltas into Console(force_terminal=True, width=100, height=30) on /dev/null")
    print()
    header = f"{'size':>6} {'mode':<12} {'deltas':>6}  {'old ms/delta':>13} {'new ms/delta':>13} {'old/new':>8}"
    header += f"  {'old tail':>9} {'new tail':>9}  {'old total s':>11} {'new total s':>11}"
    print(header)
    with open(os.devnull, "w") as sink:
        for kb in (int(s) for s in args.sizes.split(",")):
            doc = answer(kb * 1024)
            deltas = -(-len(doc) // args.delta)
            pieces = [doc[i : i + args.delta] for i in range(0, len(doc), args.delta)]
            for rate in (None, args.rate):
                mode = "frame/delta" if rate is None else "10 Hz"
                sampled = kb > args.full_old_up_to or (rate is not None and kb > 5)
                old_mean, old_tail = run_old(pieces, rate, sink, sampled)
                new_mean, new_tail = run_new(pieces, rate, sink)
                mark = "*" if sampled else " "
                print(
                    f"{kb:>4}KB {mode:<12} {deltas:>6}  {old_mean:>12.2f}{mark} {new_mean:>13.3f} "
                    f"{old_mean / new_mean:>7.0f}x  {old_tail:>8.2f}{mark} {new_tail:>9.3f}  "
                    f"{old_mean * deltas / 1000:>10.1f}{mark} {new_mean * deltas / 1000:>11.2f}"
                )
    print("\n* sampled: 40 deltas at each of 10 points of the answer, averaged; totals extrapolated (see above)")


if __name__ == "__main__":
    main()
