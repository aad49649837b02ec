"""How the usage report reads on a terminal or in a pipe (`usage`, the REPL's `/usage`): a few aligned lines,
the same figures `usage --json` gives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..words import counted, money

if TYPE_CHECKING:
    from ..core.usage_report import Cap, Period, UsageReport


def _period(name: str, period: Period) -> str:
    line = f"{name:<11}{money(period.cost) or '$0':>12}  {counted(period.turns, 'turn')}"
    if period.unpriced_turns:
        line += f" ({period.unpriced_turns:,} without a known cost)"
    return line


def _cap(name: str, cap: Cap | None) -> str:
    if cap is None:
        return f"{name:<11}{'no cap':>12}"
    share = cap.spent / cap.limit if cap.limit else 1.0
    limit = "$" + format(cap.limit, "g")
    return f"{name:<11}{limit:>12}  {money(cap.left) or '$0'} left ({share:.0%} used; {cap.source})"


def usage_lines(report: UsageReport) -> list[str]:
    lines = [f"spent ({report.scope})"]
    if report.session is not None:
        lines.append(_period("session", report.session))
    lines += [_period("today", report.today), _period("this month", report.month)]
    if report.by_model:
        lines.append("this month by model")
        for row in report.by_model:
            cost = money(row["cost"]) or "$0"
            lines.append(f"  {row['model']:<30}{cost:>12}  {counted(row['turns'], 'turn')}")
    lines.append("caps (KAIWA_MAX_COST_SESSION, _DAY, _MONTH)")
    lines += [_cap(f"  {name}", report.caps.get(name)) for name in ("session", "day", "month")]
    if report.key is not None:
        limit = f" of its ${report.key.max_budget:g} budget" if report.key.max_budget is not None else " (no budget)"
        reset = f", resets {report.key.budget_reset_at}" if report.key.budget_reset_at else ""
        lines.append(f"the proxy's count for your key: {money(report.key.spend) or '$0'}{limit}{reset}")
    return lines
