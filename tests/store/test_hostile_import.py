"""`sessions import` range-checks every value before a byte is written (times from 1970 to a day ahead, token counts,
costs, nesting, giant numbers), each refusal one line; and a listing never fails on one bad row already stored (a
teammate's on Postgres, or one from before these checks): it is left out, said, and `-c` never picks it."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest

from kaiwa.store.base import SessionDump, SessionInfo, Store
from kaiwa.store.naming import latest
from tests.cli.test_sessions import A, B, export_doc, put
from tests.conftest import Kaiwa
from tests.harness.asserts import assert_one_line_failure
from tests.store.conftest import StoreFactory
from tests.store.test_contract import answer, record, user

YEAR_9999 = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def hostile(case: str) -> str:
    """An export document (as JSON text) with one hostile value."""
    doc = export_doc(A, "planted", "hi", "hello")
    if case == "updated_at 1e300":
        doc["session"]["updated_at"] = 1e300
    elif case == "updated_at year 9999 at -14:00":
        doc["session"]["updated_at"] = YEAR_9999
    elif case == "created_at NaN":
        doc["session"]["created_at"] = math.nan
    elif case == "updated_at far ahead":
        doc["session"]["updated_at"] = 4_000_000_000.0  # 2096: would be "latest" for decades
    elif case == "turn time Infinity":
        doc["turns"][0]["created_at"] = math.inf
    elif case == "10**30 tokens":
        doc["turns"][0]["input_tokens"] = 10**30
    elif case == "cost 1e300":
        doc["turns"][0]["cost"] = 1e300
    elif case == "nested 300 deep":
        doc["items"][0]["content"] = [{"type": "input_text", "text": "x", "extra": deep(300)}]
    elif case == "nested 100000 deep":
        return json.dumps(doc).replace('"hi"', "[" * 100_000 + "]" * 100_000, 1)
    elif case == "a 5000-digit number":
        return json.dumps(doc).replace('"input_tokens": 100', '"input_tokens": ' + "9" * 5000)
    return json.dumps(doc, allow_nan=True)


CASES = {
    "updated_at 1e300": "out of range",
    "updated_at year 9999 at -14:00": "out of range",
    "created_at NaN": "out of range",
    "updated_at far ahead": "out of range",
    "turn time Infinity": "out of range",
    "10**30 tokens": "input_tokens",
    "cost 1e300": "cost",
    "nested 300 deep": "nests deeper than 200",
    "nested 100000 deep": "nests too deeply",
    "a 5000-digit number": "cannot be read",
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_import_is_one_line_and_stores_nothing(tmp_path: Path, case: str) -> None:
    kaiwa = Kaiwa(tmp_path, {})
    put(kaiwa, export_doc(B, "mine", "hello", "hi"))
    path = tmp_path / "planted.json"
    path.write_text(hostile(case))
    run = kaiwa("sessions", "import", str(path))
    assert_one_line_failure(run, 1, CASES[case])
    assert "unexpected" not in run.err
    listed = kaiwa("sessions", "--json")
    assert listed.code == 0 and [s["id"] for s in json.loads(listed.out)] == [B], listed.err


def bad_row(sid: str, **times: float) -> SessionDump:
    info = SessionInfo(session_id=sid, created_at=1_700_000_000.0, updated_at=1_700_000_000.0, model="m", title="t")
    for name, value in times.items():
        info = SessionInfo(**{**info.__dict__, name: value})
    return SessionDump(info=info, items=[user("hi"), answer("hello")], turns=[record()])


def test_a_listing_leaves_out_a_bad_row_and_says_so(new_store: StoreFactory) -> None:
    """On every backend: rows written before the checks (or by another program) cannot break a listing."""
    good = "0199b000-0000-7000-8000-00000000000a"
    planted = ["0199b000-0000-7000-8000-00000000000b", "0199b000-0000-7000-8000-00000000000c"]

    async def main(store: Store) -> None:
        await store.open()
        try:
            await store.create_session(bad_row(good))
            await store.create_session(bad_row(planted[0], updated_at=1e300))
            await store.create_session(bad_row(planted[1], created_at=-5.0, updated_at=4e9))
            assert [s.session_id for s in await store.list_sessions()] == [good]
            assert sorted(await store.unlisted()) == planted
            assert (await latest(store)).session_id == good  # -c never continues the planted one
        finally:
            await store.close()

    asyncio.run(main(new_store()))


def test_sessions_lists_the_rest_and_names_the_bad_row(tmp_path: Path) -> None:
    import sqlite3

    kaiwa = Kaiwa(tmp_path, {})
    put(kaiwa, export_doc(A, "fine", "hello", "hi"))
    put(kaiwa, export_doc(B, "planted before the checks", "hello", "hi"))
    with sqlite3.connect(kaiwa.db) as conn:
        conn.execute("UPDATE kaiwa_sessions SET updated_at = 1e300 WHERE session_id = ?", (B,))
    conn.close()
    for args in (["sessions"], ["sessions", "--json"]):
        run = kaiwa(*args)
        assert run.code == 0 and "Traceback" not in run.err, run.err
        assert A in run.out and B not in run.out
        assert "left out 1 session whose stored times are out of range" in run.err and B[-8:] in run.err
    shown = kaiwa("sessions", "show", B[-8:], "--json")  # named, it is still shown (and can be deleted)
    assert shown.code == 0 and json.loads(shown.out)["updated_at"] == "invalid", shown.err
    assert kaiwa("sessions", "delete", "--yes", B[-8:]).code == 0
