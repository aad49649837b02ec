"""The entry of `chat.py`, the installed `kaiwa` command and `python -m kaiwa`: hand the call to the warm
kaiwa process (kaiwa/warm), else run it here, cold. Nothing above the standard library is imported before
the hand-off."""

from __future__ import annotations


def main() -> None:
    from .warm.client import handoff

    code = handoff()
    if code is not None:
        raise SystemExit(code)
    from .cli import run

    run()
