"""How counts read in every message kaiwa prints: `1 turn`, `2 turns`, `1 session deleted`. Bottom layer."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, plural unless the count is exactly one (`0 turns`, `1 turn`, `1,204 turns`)."""
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"
