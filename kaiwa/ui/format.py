"""The one way kaiwa writes figures: tokens, cost, counts, times and a turn's usage line. Every face and command
uses these, so one session shows the same cost in the toolbar, `/sessions`, `/usage` and `sessions list`."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from ..words import counted as plural  # `1 turn`, `2 turns`: shared with the store's own messages
from ..words import money  # shared with the core's budget lines

if TYPE_CHECKING:
    from ..gateway.proxy_info import Prices
    from ..store.base import TurnRecord

__all__ = ["cache_totals", "money", "plural", "record_usage_line", "relative_time", "tokens", "usage_line"]


def tokens(count: int) -> str:
    return f"{count:,}"


def usage_line(
    model: str,
    input_tokens: int,
    output_tokens: int,
    reasoning: int,
    cached: int,
    cost: float | None,
    written: int = 0,
) -> str:
    """`alias · 1,204 in (9,800 cached, 612 written) · 310 out · $0.0123`."""
    line = f"{model} · {token_counts(input_tokens, output_tokens, reasoning, cached, written)}"
    return line if cost is None else f"{line} · {money(cost)}"


def token_counts(input_tokens: int, output_tokens: int, reasoning: int = 0, cached: int = 0, written: int = 0) -> str:
    """`1,204 in (9,800 cached, 612 written) · 310 out`: "in" is the input at full price; the proxy's input count
    also holds what was read from the prompt cache and what was written to it."""
    full = max(0, input_tokens - cached - written)
    cache = ", ".join(
        part
        for part in (f"{tokens(cached)} cached" if cached else "", f"{tokens(written)} written" if written else "")
        if part
    )
    out = f"{tokens(output_tokens)} out" + (f" ({tokens(reasoning)} reasoning)" if reasoning else "")
    return f"{tokens(full)} in" + (f" ({cache})" if cache else "") + f" · {out}"


def record_usage_line(record: TurnRecord) -> str:
    """The usage line of a stored turn."""
    return usage_line(
        record.model,
        record.input_tokens,
        record.output_tokens,
        record.reasoning_tokens,
        record.cached_tokens,
        record.cost,
        record.cache_write_tokens,
    )


def cache_totals(turns: list[TurnRecord], prices: dict[str, Prices] | None) -> str:
    """`9,800 cached · 612 written · caching saved $0.0231` over `turns` ("" when nothing was cached), the saving
    at the proxy's prices per model (left out when the proxy cannot say, or does not price a model)."""
    read = sum(t.cached_tokens for t in turns)
    written = sum(t.cache_write_tokens for t in turns)
    if not read and not written:
        return ""
    line = f"{tokens(read)} cached · {tokens(written)} written"
    if prices is not None and all(t.model in prices for t in turns if t.cached_tokens or t.cache_write_tokens):
        saved = sum(prices[t.model].saving(t.cached_tokens, t.cache_write_tokens) for t in turns if t.model in prices)
        line += f" · caching saved {money(saved)}" if saved >= 0 else f" · caching cost {money(-saved)} more"
    return line


def relative_time(timestamp: float, now: float | None = None) -> str:
    """ "just now", "3 min ago", "2 h ago", "yesterday", "4 days ago", then the date (local time); "?" for a
    stored time that is no date."""
    try:
        return _relative_time(timestamp, time.time() if now is None else now)
    except (OverflowError, ValueError, OSError):
        return "?"


def _relative_time(timestamp: float, now: float) -> str:
    seconds = now - timestamp
    if seconds < 0:
        return "just now" if seconds > -60 else dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d")
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    then, today = dt.datetime.fromtimestamp(timestamp).date(), dt.datetime.fromtimestamp(now).date()
    days = (today - then).days
    if days == 0:
        return f"{int(seconds // 3600)} h ago"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return then.isoformat()
