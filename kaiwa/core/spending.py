"""The conversation's spending guard: before a turn (or a compaction) is sent, what was spent plus this request's
input must stay under the user's caps (core/budget.py); after it, a cap 80% used is said once per cap and period,
and a turn the proxy could not price is said to be uncounted.

Costs are the proxy's own (`x-litellm-response-cost`, stored per turn). What a turn will cost is its input at
the proxy's prices (`/model/info`): the previous context, as the provider counted it on the last turn, plus a
local estimate of the new message; the previous context is priced as cached when the last turn read from the
cache. A model the proxy has no price for is never refused on a guess, only once a cap is already spent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..dirs import state_dir
from . import budget, estimate
from .events import Emit, Notice

if TYPE_CHECKING:
    from ..gateway.proxy_info import Prices
    from ..store.base import SessionInfo, Store, TurnRecord

WARNED_FILE = "budget-warnings.json"


def spender_of(api_key: str | None) -> str:
    """Who spends, as the store records it: a fingerprint of the proxy key (never the key). On a team's Postgres
    each member has their own LiteLLM virtual key, so this tells one member's turns from another's."""
    if not api_key:
        return ""
    return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Check:
    """What a turn would cost, and the cap it would pass (None: it may be sent)."""

    cost: float | None  # None: the model has no known price
    refusal: budget.Refusal | None


class Spending:
    """One per conversation: the caps, the proxy's prices (asked once a conversation), the store's spend."""

    def __init__(self, store: Store, base_url: str, api_key: str | None) -> None:
        self.store = store
        self.base_url = base_url
        self.api_key = api_key
        self.spender = spender_of(api_key)
        self._prices: dict[str, Prices] | None = None

    async def prices(self, model: str) -> Prices | None:
        if self._prices is None:
            from ..gateway.proxy_info import model_prices

            self._prices = await asyncio.to_thread(model_prices, self.base_url, self.api_key) or {}
        return self._prices.get(model)

    async def spent(self, session: SessionInfo | None, calendar: budget.Calendar) -> budget.Spent:
        spender = self.spender if self.store.shared else None
        day = sum(row.cost for row in await self.store.spend(calendar.day_start, spender))
        month = sum(row.cost for row in await self.store.spend(calendar.month_start, spender))
        return budget.Spent(session=(session.cost or 0.0) if session else 0.0, day=day, month=month)

    async def check(
        self, caps: budget.Caps, model: str, session: SessionInfo | None, new_input: Any, fixed: str = ""
    ) -> Check:
        """Whether a request to `model` may be sent: `session` None for a new session (whose `fixed` text, its
        instructions, is estimated too); `new_input` is what this request adds to what was sent before."""
        if not caps.any():
            return Check(None, None)
        prices = await self.prices(model)
        if prices is None:  # nothing to project by; a cap already spent is no guess, whatever the model
            return Check(None, budget.refusal(caps, await self.spent(session, budget.Calendar.at()), 0.0))
        turns = await self.store.turns(session.session_id) if session is not None else []
        last = turns[-1] if turns else None
        added = estimate.input_tokens(new_input) + (estimate.text_tokens(fixed) if last is None else 0)
        before = (last.input_tokens + last.output_tokens) if last is not None else 0
        cached = before if last is not None and last.cached_tokens > 0 else 0
        cost = budget.Projection(before + added, cached).cost(prices.input, prices.cache_read)
        calendar = budget.Calendar.at()
        return Check(cost, budget.refusal(caps, await self.spent(session, calendar), cost))

    async def after(self, caps: budget.Caps, session: SessionInfo | None, record: TurnRecord, emit: Emit) -> None:
        """Once the turn is stored: the 80% warnings (once per cap and period) and an unpriced turn."""
        if not caps.any():
            return
        if record.cost is None:
            emit(Notice(f"this turn's cost is unknown (the proxy has no price for {record.model}): "
                        "it does not count toward your spending caps", "warning"))  # fmt: skip
        calendar = budget.Calendar.at()
        spent = await self.spent(session, calendar)
        session_id = session.session_id if session else ""
        for warning in budget.warnings(caps, spent):
            if _first_warning(warning.period, calendar.key(warning.period, session_id)):
                emit(Notice(warning.line(), "warning"))


def _first_warning(period: str, key: str) -> bool:
    """True the first time a cap's warning is due in its period (remembered in kaiwa's state folder, so a script
    running one-shots in a loop is told once, not every turn)."""
    path = Path(state_dir()) / WARNED_FILE
    try:
        seen = json.loads(path.read_text())
    except (OSError, ValueError):
        seen = {}
    if not isinstance(seen, dict):
        seen = {}
    if seen.get(period) == key:
        return False
    seen[period] = key
    tmp = path.with_name(f".{WARNED_FILE}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(seen, handle)
        os.replace(tmp, path)
    except OSError:
        pass  # a warning said twice is better than a turn failed over a note
    return True
