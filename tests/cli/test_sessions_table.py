"""The sessions table on a real terminal (a pty at 80 and 120 columns) never cuts what you copy or compare: every
short id and every cost is whole, one row per session; the title gives way first, then a long model alias.
chat.py runs as a subprocess; sessions come in through `sessions import`."""

from __future__ import annotations

import re
import sys

import pexpect
import pytest

from tests.cli.test_sessions import export_doc, put
from tests.conftest import CHAT, Kaiwa

LONG_ALIAS = "bedrock-claude-3-5-sonnet-v2-for-the-whole-platform-team"
SESSIONS = [
    ("019ac0de-1111-7000-8000-0000eed95001", LONG_ALIAS, 0.000123, "How do I debug a kubernetes ingress that fails?"),
    ("019ac0de-2222-7000-8000-0000eed95002", "fake-a", 12.5, "A title long enough to be cut at eighty columns, surely"),
    ("019ac0de-3333-7000-8000-0000eed95003", "local", 0.000015, "short"),
]


def money(cost: float) -> str:
    return f"${cost:.6f}".rstrip("0").rstrip(".")


@pytest.mark.parametrize("columns", [80, 120])
def test_ids_and_costs_are_never_cut(tmp_path: object, columns: int) -> None:
    kaiwa = Kaiwa(tmp_path, {})  # type: ignore[arg-type]
    for n, (sid, model, cost, title) in enumerate(SESSIONS):
        doc = export_doc(sid, title, "q", "a", updated_at=1_764_000_000.0 + n)
        doc["session"]["model"] = model
        doc["turns"][0].update(model=model, cost=cost)
        put(kaiwa, doc)
    child = pexpect.spawn(
        sys.executable,
        [str(CHAT), "sessions"],
        cwd=str(kaiwa.home),
        env={**kaiwa.env, "COLUMNS": str(columns), "LINES": "40", "TERM": "xterm"},
        encoding="utf-8",
        timeout=60,
        dimensions=(40, columns),
    )
    child.expect(pexpect.EOF)
    screen = re.sub(r"\x1b\[[0-9;]*[mK]", "", child.before)
    lines = [line for line in screen.splitlines() if line.strip()]
    assert lines[0].split()[:2] == ["id", "last"], screen
    rows = lines[1:]
    assert len(rows) == len(SESSIONS), screen  # one line per session: nothing wrapped
    for row, (sid, model, cost, _title) in zip(rows, reversed(SESSIONS), strict=True):
        assert len(row) <= columns, row
        assert row.split()[0] == sid[-8:], row  # the short id, whole
        assert money(cost) in row.split(), row  # the cost, whole
        if columns == 120 and model != LONG_ALIAS:
            assert model in row.split()
    assert any("…" in row for row in rows)  # something did give way: the titles (and at 80 the long alias)
