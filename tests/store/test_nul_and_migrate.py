"""What one store accepts, the other accepts: a NUL character (a piped binary file) in a message, its title and a
session's instructions is stored by SQLite and by the REAL Postgres alike, and read back exactly (the items) or as
U+FFFD (metadata text, which Postgres cannot hold); `sessions migrate` copies such a store whole, names in one line
any session it cannot copy and copies the rest, and several migrates at once never trip over each other. chat.py
runs as a subprocess where the command is under test."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from kaiwa.store.base import SessionDump, SessionInfo, TurnRecord, make_title
from kaiwa.store.postgres import PostgresStore
from kaiwa.store.sqlite import SQLiteStore
from tests.conftest import Kaiwa
from tests.store.conftest import StoreFactory
from tests.store.test_contract import answer, user

NUL_SID = "0199b000-0000-7000-8000-0000000000f0"


def nul_items() -> list[dict[str, Any]]:
    return [user("a\x00b from a piped file"), answer("I see a NUL\x00 there")]


def test_a_nul_is_stored_and_read_back_on_every_backend(new_store: StoreFactory) -> None:
    async def main() -> None:
        store = new_store()
        await store.open()
        try:
            title = make_title("a\x00b from a piped file")
            assert "\x00" not in title  # the same title on every backend
            record = TurnRecord(model="m")
            await store.commit_turn(NUL_SID, nul_items(), record, title=title, instructions="be\x00 brief")
            assert await store.items(NUL_SID) == nul_items()  # exactly, NUL included
            info = await store.get_session(NUL_SID)
            assert info is not None and info.title == "a b from a piped file"
            assert info.instructions in ("be\x00 brief", "be\ufffd brief")  # Postgres text holds no NUL
            await store.rename(NUL_SID, "renamed\x00")
            await store.set_instructions(NUL_SID, "\x00")
        finally:
            await store.close()

    asyncio.run(main())


def many_sessions(n: int) -> list[SessionDump]:
    out = []
    for k in range(n):
        sid = f"0199b000-0000-7000-8000-{k:012x}"
        info = SessionInfo(sid, 1_700_000_000.0 + k, 1_700_000_000.0 + k, "m", f"session {k}", instructions="x\x00y")
        out.append(SessionDump(info, [user(f"q{k}\x00"), answer(f"a{k}\x00")], [TurnRecord(model="m")]))
    return out


def fill_sqlite(path: Path, dumps: list[SessionDump]) -> None:
    async def main() -> None:
        store = SQLiteStore(path, warn=lambda line: None)
        try:
            for dump in dumps:
                await store.create_session(dump)
        finally:
            await store.close()

    asyncio.run(main())


def pg_items(url: str, sid: str) -> list[Any]:
    async def main() -> list[Any]:
        store = PostgresStore(url)
        try:
            return await store.items(sid)
        finally:
            await store.close()

    return asyncio.run(main())


def migrate(kaiwa: Kaiwa, db: Path, url: str) -> subprocess.Popen[str]:
    return kaiwa.start("sessions", "migrate", "--from", str(db), "--to", url)


def test_migrate_copies_nul_sessions_and_names_the_one_it_skips(tmp_path: Path, pg_url: str) -> None:
    kaiwa = Kaiwa(tmp_path, {})
    db = tmp_path / "old.sqlite3"
    dumps = many_sessions(7)
    fill_sqlite(db, dumps)
    bad = dumps[3].info.session_id
    with sqlite3.connect(db) as conn:  # a row no store should hold (written before imports were checked)
        conn.execute("UPDATE kaiwa_sessions SET updated_at = 1e300 WHERE session_id = ?", (bad,))
    conn.close()
    for _ in range(2):  # the same every run, never a stop at the same session
        run = kaiwa("sessions", "migrate", "--from", str(db), "--to", pg_url)
        assert run.code == 1 and "Traceback" not in run.err, run.err
        errors = [line for line in run.err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and bad[-8:] in errors[0] and "out of range" in errors[0], run.err
    assert pg_items(pg_url, dumps[0].info.session_id) == dumps[0].items  # NUL and all
    listed = kaiwa("sessions", "--json", SESSION_DB_URL=pg_url)
    assert listed.code == 0 and len(json.loads(listed.out)) == 6, listed.err


def test_migrates_at_once_copy_each_session_once_in_one_line_each(tmp_path: Path, pg_url: str) -> None:
    kaiwa = Kaiwa(tmp_path, {})
    db = tmp_path / "old.sqlite3"
    fill_sqlite(db, many_sessions(40))
    runs = [migrate(kaiwa, db, pg_url) for _ in range(3)]
    results = [(proc.wait(timeout=300), *proc.communicate()) for proc in runs]
    copied = 0
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err and "--new-id" not in err + out, err
        assert out.startswith("copied "), out
        copied += int(out.split()[1])
    assert copied == 40  # each session copied by exactly one of them
    listed = kaiwa("sessions", "--json", "-n", "100", SESSION_DB_URL=pg_url)
    assert listed.code == 0 and len(json.loads(listed.out)) == 40, listed.err
