"""The entry of `chat.py`, the installed `kaiwa` command and `python -m kaiwa`: hand the call to the warm
kaiwa process (kaiwa/warm), else run it here, cold. Nothing above the standard library is imported before
the hand-off."""

from __future__ import annotations

import os
import sys


def main() -> None:
    _closed_stdio()
    from .warm.client import handoff

    code = handoff()
    if code is not None:
        raise SystemExit(code)
    try:
        from .cli import run
    except KeyboardInterrupt:  # Ctrl-C while the libraries load: an ending, not a traceback
        raise SystemExit(130) from None
    run()


def _closed_stdio() -> None:
    """A closed stdin or stderr (`<&-`, `2>&-`) reads as /dev/null, as the shell's `</dev/null` would; a closed
    stdout is one line and exit 1, before anything is sent: the answer would have nowhere to go."""
    closed = []
    for fd in (0, 1, 2):  # in order: os.open takes the lowest free number, the closed one
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
            os.open(os.devnull, os.O_RDWR)
    if 0 in closed:
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (lives on as sys.stdin)
    if 2 in closed:
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    if 1 in closed:
        sys.stderr.write("error: stdout is closed, so kaiwa has nowhere to write (nothing was run or sent) — "
                         "give it a file or a pipe, e.g. >/dev/null\n")  # fmt: skip
        sys.stderr.flush()
        raise SystemExit(1)
