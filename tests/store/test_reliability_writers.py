"""Many writers on one store: chat.py processes at once through the real proxy, on one SQLite file.

By default the counts are small (CI time on 2 shared cores: every chat.py start imports the Agents SDK);
KAIWA_RELIABILITY_FULL=1 runs the issue's counts (8 processes x 25 turns; 4 processes x 10 turns on one session).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest

from tests.conftest import Kaiwa, Run
from tests.harness.db import stored_items
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply

SLOW = 600  # seconds a chat.py run may take on a loaded CI machine (2 shared cores)
FULL = os.environ.get("KAIWA_RELIABILITY_FULL") == "1"
WRITERS, WRITER_TURNS = (8, 25) if FULL else (4, 2)
SAME_SESSION, SAME_SESSION_TURNS = (4, 10) if FULL else (3, 2)

pytestmark = pytest.mark.slow


def text_of(item: dict) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [])


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def in_threads(n: int, work) -> list:  # type: ignore[no-untyped-def]
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def no_lock_errors(runs: list[Run]) -> None:
    for run in runs:
        assert "locked" not in run.err.lower() and "Traceback" not in run.err, run.err


def test_many_processes_on_one_file_each_on_its_own_session(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    """WRITERS processes at once, each WRITER_TURNS turns in its own session, all on a NEW file (they race to
    create it, too)."""

    def writer(w: int) -> tuple[str | None, list[Run]]:
        sid: str | None = None
        runs = []
        for t in range(WRITER_TURNS):
            run = kaiwa("--input", f"writer {w} turn {t}", *(["--session-id", sid] if sid else []), timeout=SLOW)
            runs.append(run)
            sid = sid or run.session_id
        return sid, runs

    results = in_threads(WRITERS, writer)
    runs = [run for _, rs in results for run in rs]
    failed = [r.err for r in runs if r.code != 0]
    no_lock_errors(runs)
    assert failed == [], failed
    assert integrity(kaiwa.db) == "ok"
    for w, (sid, _) in enumerate(results):
        items = stored_items(kaiwa.db, sid)
        assert [i.get("role") for i in items] == ["user", "assistant"] * WRITER_TURNS
        assert [text_of(i) for i in items[::2]] == [f"writer {w} turn {t}" for t in range(WRITER_TURNS)]
    with sqlite3.connect(kaiwa.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kaiwa_turns").fetchone() == (WRITERS * WRITER_TURNS,)
        assert conn.execute("SELECT COUNT(*) FROM kaiwa_sessions").fetchone() == (WRITERS,)
    print(f"\nmany writers: {WRITERS} processes x {WRITER_TURNS} turns = {len(runs)} turns, 0 lost, 0 errors")


def test_many_processes_on_one_session_are_serialised(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    """SAME_SESSION processes continue ONE session at once: each turn waits for the one before (saying so);
    the stored history strictly alternates user/assistant and holds every successful turn once; no turn read a
    history another turn was about to extend (every request's history is a prefix of the final one)."""
    first = kaiwa("--input", "start", timeout=SLOW)
    sid = first.session_id
    assert first.code == 0 and sid
    upstream.reset()
    upstream.script(*[Reply(text="slow answer " * 8, chunks=8, chunk_delay=0.15)] * (SAME_SESSION * SAME_SESSION_TURNS))

    def writer(w: int) -> list[Run]:
        return [kaiwa("--input", f"p{w} t{t}", "--session-id", sid, timeout=SLOW) for t in range(SAME_SESSION_TURNS)]

    results = in_threads(SAME_SESSION, writer)
    runs = [run for rs in results for run in rs]
    no_lock_errors(runs)
    assert [r.err for r in runs if r.code != 0] == []
    items = stored_items(kaiwa.db, sid)
    n = 1 + SAME_SESSION * SAME_SESSION_TURNS
    assert [i.get("role") for i in items] == ["user", "assistant"] * n
    said = [text_of(i) for i in items[::2]]
    assert sorted(said[1:]) == sorted(f"p{w} t{t}" for w in range(SAME_SESSION) for t in range(SAME_SESSION_TURNS))
    for request in upstream.model_requests():
        users = [
            m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
            for m in request.body["messages"]
            if m["role"] == "user"
        ]
        assert users == said[: len(users)], (users, said)  # read the whole history, then appended to it
    assert integrity(kaiwa.db) == "ok"
    waits = sum("waiting" in r.err for r in runs)
    print(
        f"\none session: {SAME_SESSION} processes x {SAME_SESSION_TURNS} turns, {waits} waited, 0 lost, 0 interleaved"
    )


def hold_session_lock(db: Path, session_id: str) -> int:
    """Take the session's turn lock from outside kaiwa, as a running turn holds it."""
    fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    offset = zlib.crc32(session_id.encode()) & 0x7FFFFFFF
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0))
    return fd


@pytest.mark.skipif(not hasattr(fcntl, "F_OFD_SETLK"), reason="Linux open-file-description locks")
def test_a_busy_session_is_waited_for_visibly_then_fails_in_one_line(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "start", timeout=SLOW).session_id
    assert sid
    before = stored_items(kaiwa.db, sid)
    fd = hold_session_lock(kaiwa.db, sid)
    try:
        run = kaiwa("--input", "are you there", "--session-id", sid, timeout=SLOW, KAIWA_LOCK_TIMEOUT="2")
    finally:
        os.close(fd)
    assert run.code == 1 and "Traceback" not in run.err
    assert f"waiting: another kaiwa process is in a turn on session {sid}" in run.err
    [error] = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert "is busy" in error and " — " in error
    assert "are you there" in run.err  # the text is shown back
    assert stored_items(kaiwa.db, sid) == before
    assert len(upstream.model_requests()) == 1  # nothing was sent while it waited


@pytest.mark.skipif(not hasattr(fcntl, "F_OFD_SETLK"), reason="Linux open-file-description locks")
def test_a_waiting_turn_goes_on_when_the_session_is_free(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "start", timeout=SLOW).session_id
    assert sid
    fd = hold_session_lock(kaiwa.db, sid)
    proc = kaiwa.start("--input", "next", "--session-id", sid)
    assert proc.stderr is not None
    deadline = time.monotonic() + SLOW
    line = ""
    while "waiting" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
    os.close(fd)  # the other turn ends
    out, err = proc.communicate(timeout=SLOW)
    assert "waiting" in line and proc.returncode == 0, line + err
    assert [text_of(i) for i in stored_items(kaiwa.db, sid)[::2]] == ["start", "next"]
