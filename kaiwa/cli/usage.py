"""`chat.py usage`: what was spent today and this month, by model, against the caps and the proxy key's budget."""

from __future__ import annotations

import json
import sys

from ..settings import load_settings
from .common import DebugOption, JsonOption, app
from .sessions import _guarded, with_store


@app.command("usage")
def usage(json_out: JsonOption = False, debug: DebugOption = False) -> None:
    """Spend and turns today and this month, by model, against your caps (KAIWA_MAX_COST_SESSION, _DAY, _MONTH)
    and, when the proxy keeps keys, your key's own budget. On a team's Postgres: your own turns only."""

    def run() -> None:
        from ..core.budget import Caps
        from ..core.usage_report import usage_report
        from ..ui.usage import usage_lines

        settings = load_settings()
        caps = Caps(settings.max_cost_session, settings.max_cost_day, settings.max_cost_month)
        # The proxy is asked only when the user named one: `usage` never starts the local gateway.
        base_url = settings.base_url if settings.base_url_from_user else None
        report = with_store(settings, lambda store: usage_report(store, caps, base_url, settings.api_key))
        if json_out:
            sys.stdout.write(json.dumps(report.as_json(), ensure_ascii=False, indent=2) + "\n")
        else:
            sys.stdout.write("\n".join(usage_lines(report)) + "\n")

    _guarded(debug, run)
