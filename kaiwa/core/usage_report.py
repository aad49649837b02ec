"""`usage` (and the REPL's `/usage`): what was spent today and this month, by model, against the caps, and the
proxy key's own budget when the proxy will say (LiteLLM's `/key/info`).

On a shared store (a team's Postgres) only the user's own turns count: those recorded under the fingerprint of
the key in use (`spending.spender_of`). A SQLite file is one user's, so every turn in it counts.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from . import budget
from .spending import spender_of

if TYPE_CHECKING:
    from ..gateway.proxy_info import KeyBudget
    from ..store.base import ModelSpend, Store


@dataclass(frozen=True)
class Period:
    cost: float = 0.0
    turns: int = 0
    unpriced_turns: int = 0  # turns the proxy gave no cost for (not in `cost`)
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Cap:
    limit: float
    spent: float
    left: float
    source: str


@dataclass(frozen=True)
class UsageReport:
    today: Period
    month: Period
    by_model: list[dict[str, Any]]  # this month, most spent first
    caps: dict[str, Cap | None]
    key: KeyBudget | None = None  # the proxy's budget for the key in use
    session: Period | None = None  # the REPL's own session
    scope: str = "all turns in this store"

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "today": asdict(self.today),
            "month": asdict(self.month),
            "by_model": self.by_model,
            "caps": {name: asdict(cap) if cap else None for name, cap in self.caps.items()},
            "proxy_key": asdict(self.key) if self.key else None,
            "scope": self.scope,
        }
        if self.session is not None:
            data["session"] = asdict(self.session)
        return data


def _period(rows: list[ModelSpend]) -> Period:
    return Period(
        cost=sum((r.cost for r in rows), 0.0),
        turns=sum(r.turns for r in rows),
        unpriced_turns=sum(r.unpriced_turns for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
    )


def _cap(limit: float | None, spent: float, source: str) -> Cap | None:
    return None if limit is None else Cap(limit, spent, max(0.0, limit - spent), source)


async def usage_report(
    store: Store,
    caps: budget.Caps,
    base_url: str | None,
    api_key: str | None,
    session: tuple[float, int] | None = None,
) -> UsageReport:
    """`session`: the current session's (cost, turns), for the REPL. `base_url` None: the proxy is not asked."""
    calendar = budget.Calendar.at()
    spender = spender_of(api_key) if store.shared else None
    today_rows = await store.spend(calendar.day_start, spender)
    month_rows = await store.spend(calendar.month_start, spender)
    key = None
    if base_url is not None:
        from ..gateway.proxy_info import key_budget

        key = await asyncio.to_thread(key_budget, base_url, api_key)
    today, month = _period(today_rows), _period(month_rows)
    spent_session = session[0] if session else 0.0
    return UsageReport(
        today=today,
        month=month,
        by_model=[asdict(r) for r in sorted(month_rows, key=lambda r: (-r.cost, r.model))],
        caps={
            "session": _cap(caps.session, spent_session, caps.source("session")),
            "day": _cap(caps.day, today.cost, caps.source("day")),
            "month": _cap(caps.month, month.cost, caps.source("month")),
        },
        key=key,
        session=Period(cost=session[0], turns=session[1]) if session else None,
        scope="your own turns (this key's)" if store.shared else "all turns in this store",
    )
