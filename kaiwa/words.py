"""How counts read in every message kaiwa prints: `1 turn`, `2 turns`, `1 session deleted`. Bottom layer."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, plural unless the count is exactly one (`0 turns`, `1 turn`, `1,204 turns`)."""
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"


SMALLEST = 0.000001  # below one millionth of a dollar a cost is shown as "<$0.000001", never as "$0"


def money(cost: float | None) -> str:
    """$0.000015, $0.0123, $1.5; "" when the proxy gave no price."""
    if cost is None:
        return ""
    if cost == 0:
        return "$0"
    if 0 < cost < SMALLEST:
        return f"<${SMALLEST:.6f}"
    return f"${cost:.6f}".rstrip("0").rstrip(".")
