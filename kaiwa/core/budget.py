"""Spending caps: a turn is refused before anything is sent when what is already spent plus this turn's input,
at the model's price, would pass a cap; a cap 80% used is said once per cap and period.

Pure arithmetic over figures the caller brings (the store's spend, the proxy's prices, the turn's projected
tokens), so the one-shot, the REPL and ACP decide alike. Days and months are the user's local calendar.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from ..words import money

Period = Literal["session", "day", "month"]
WARN_AT = 0.8  # of a cap: the warning's threshold
SETTING = {"session": "KAIWA_MAX_COST_SESSION", "day": "KAIWA_MAX_COST_DAY", "month": "KAIWA_MAX_COST_MONTH"}


@dataclass(frozen=True)
class Caps:
    """Dollars; None: no cap. `session_source` names where the session cap came from (a setting or a role)."""

    session: float | None = None
    day: float | None = None
    month: float | None = None
    session_source: str = SETTING["session"]

    def any(self) -> bool:
        return self.session is not None or self.day is not None or self.month is not None

    def of(self, period: Period) -> float | None:
        return {"session": self.session, "day": self.day, "month": self.month}[period]

    def source(self, period: Period) -> str:
        return self.session_source if period == "session" else SETTING[period]


@dataclass(frozen=True)
class Spent:
    """What was already spent (turns, compactions and retries alike) in each period."""

    session: float = 0.0
    day: float = 0.0
    month: float = 0.0

    def of(self, period: Period) -> float:
        return {"session": self.session, "day": self.day, "month": self.month}[period]


@dataclass(frozen=True)
class Calendar:
    """Where today and this month begin (epoch seconds, local time), and keys naming them."""

    day_start: float
    month_start: float
    day_key: str
    month_key: str

    @classmethod
    def at(cls, now: float | None = None) -> Calendar:
        local = time.localtime(time.time() if now is None else now)
        day = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
        month = time.mktime((local.tm_year, local.tm_mon, 1, 0, 0, 0, 0, 0, -1))
        return cls(day, month, time.strftime("%Y-%m-%d", local), time.strftime("%Y-%m", local))

    def key(self, period: Period, session_id: str) -> str:
        return {"session": session_id, "day": self.day_key, "month": self.month_key}[period]


@dataclass(frozen=True)
class Projection:
    """This turn's input as the caller projects it: `tokens` in all, of which `cached` are likely read from the
    prompt cache (priced at the cache's own rate)."""

    tokens: int
    cached: int = 0

    def cost(self, input_price: float, cache_read_price: float) -> float:
        cached = min(self.cached, self.tokens)
        return (self.tokens - cached) * input_price + cached * cache_read_price


@dataclass(frozen=True)
class Refusal:
    """The cap this turn would pass."""

    period: Period
    cap: float
    spent: float
    turn: float
    source: str

    @property
    def setting(self) -> str | None:
        """The setting to raise (None: a role's cap, raised in its file)."""
        return self.source if self.source in SETTING.values() else None

    def message(self) -> str:
        what = {"session": "this session", "day": "today", "month": "this month"}[self.period]
        return (
            f"this turn would pass your {self.period} cap ({self.source}=${self.cap:g}): {money(self.spent)} "
            f"spent {what} + about {money(self.turn)} for this turn's input; nothing was sent"
        )

    def hint(self) -> str:
        wait = {"session": "start a new session", "day": "wait until tomorrow", "month": "wait until next month"}
        return f"raise {self.source}, or {wait[self.period]}"


@dataclass(frozen=True)
class Warning_:
    """A cap that is 80% used or more."""

    period: Period
    cap: float
    spent: float
    source: str

    def line(self) -> str:
        share = self.spent / self.cap if self.cap else 1.0
        return f"{share:.0%} of your {self.period} cap used: {money(self.spent)} of ${self.cap:g} ({self.source})"


PERIODS: tuple[Period, ...] = ("session", "day", "month")


def refusal(caps: Caps, spent: Spent, turn_cost: float) -> Refusal | None:
    """The first cap (session, day, month) that `spent` plus this turn would pass, or None."""
    for period in PERIODS:
        cap = caps.of(period)
        if cap is not None and not spent.of(period) + turn_cost <= cap:  # a NaN anywhere refuses, never passes
            return Refusal(period, cap, spent.of(period), turn_cost, caps.source(period))
    return None


def warnings(caps: Caps, spent: Spent) -> list[Warning_]:
    """The caps at or past 80% of their amount (the caller says each once per period)."""
    out = []
    for period in PERIODS:
        cap = caps.of(period)
        if cap is not None and spent.of(period) >= WARN_AT * cap and spent.of(period) > 0:
            out.append(Warning_(period, cap, spent.of(period), caps.source(period)))
    return out
