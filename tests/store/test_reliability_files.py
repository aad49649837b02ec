"""Private files and bad stores, through chat.py as a user runs it (real SQLite files, the real proxy).

Private: the database, its -wal/-shm and `<db>.lock` are 0600 under umask 022; an existing database that others
can read gets one warning line and keeps its mode; the gateway's state folder and files are 0700/0600.
Bad stores (corrupt, truncated, another application's, a newer kaiwa's, read-only file, read-only filesystem):
one `error:` line, a non-zero exit, no traceback, and the file byte-for-byte as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kaiwa.store.base import TurnRecord
from kaiwa.store.sqlite import SQLiteStore
from tests.conftest import Kaiwa, Run
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply

SLOW = 600  # seconds a chat.py run may take on a loaded CI machine (2 shared cores)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(run: Run) -> str:
    assert run.code != 0, run.err
    assert "Traceback" not in run.err, run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.err
    assert [line for line in run.err.splitlines() if line.startswith("warning:")] == [], run.err
    return errors[0]


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# -- private by default -----------------------------------------------------------------------------------------


def test_a_new_store_is_private_under_umask_022(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, umask_022: None) -> None:
    """The turn is slow so that its -wal/-shm (created when the SDK first reads the history) can be looked at."""
    upstream.script(Reply(text="word " * 30, chunks=30, chunk_delay=0.1))
    proc = subprocess.Popen(
        kaiwa.command("--input", "hello"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=kaiwa.home,
        env=kaiwa.env,
        umask=0o022,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.read(4)  # the answer is streaming: the store is open, the turn not committed yet
    files = [kaiwa.db, Path(f"{kaiwa.db}-wal"), Path(f"{kaiwa.db}-shm"), Path(f"{kaiwa.db}.lock")]
    modes = {f.name: mode(f) for f in files}
    out, err = proc.communicate(timeout=SLOW)
    assert proc.returncode == 0, err
    assert modes == {f.name: 0o600 for f in files}
    assert mode(kaiwa.db) == 0o600 and "warning" not in err


def test_wal_and_shm_follow_the_database_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path)

    async def body() -> dict[str, int]:
        await store.open()
        await store.commit_turn("s", [{"role": "user", "content": "hi"}], TurnRecord(model="m"), title="t")
        modes = {p.name: mode(p) for p in tmp_path.iterdir()}  # the connection is open: -wal and -shm exist
        await store.close()
        return modes

    modes = asyncio.run(body())
    assert modes == {"db.sqlite3": 0o600, "db.sqlite3-wal": 0o600, "db.sqlite3-shm": 0o600}


def test_an_existing_store_readable_by_others_is_said_once_and_left_so(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    assert kaiwa("--input", "hello", timeout=SLOW).code == 0
    os.chmod(kaiwa.db, 0o644)
    run = kaiwa("sessions", timeout=SLOW)
    assert run.code == 0, run.err
    warnings = [line for line in run.err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning:") and "chmod 600" in warnings[0], run.err
    assert "hello" in run.out  # the sessions are still listed
    assert mode(kaiwa.db) == 0o644  # said, not changed


def test_the_gateway_state_is_private_under_umask_022(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None
) -> None:
    from kaiwa.gateway import state as gs

    monkeypatch.setenv("KAIWA_STATE_DIR", str(tmp_path / "deep" / "state"))
    p = gs.paths()
    gs.new_keys(p)  # a start writes its key (the reader, master_key, makes nothing)
    gs.write_json_atomic(p.state, {"supervisor_pid": 1})
    gs.touch_last_used(p)
    with gs.locked(p):
        pass
    log = os.fdopen(gs.open_private(p.log), "ab")
    log.close()
    assert mode(p.root) == 0o700
    assert {f.name: mode(f) for f in p.root.iterdir()} == {
        name: 0o600 for name in ("gateway.key", "gateway.json", "gateway.last-used", "gateway.lock", "gateway.log")
    }


# -- bad stores ---------------------------------------------------------------------------------------------------


def kaiwa_db(path: Path) -> None:
    """A real kaiwa store with a few sessions, big enough to have many pages."""

    async def body() -> None:
        store = SQLiteStore(path, warn=lambda line: None)
        for n in range(30):
            items = [{"role": "user", "content": f"question {n} " * 100}, {"role": "assistant", "content": "x" * 3000}]
            await store.commit_turn(
                f"0190a000-0000-7000-8000-00000000000{n % 3}", items, TurnRecord(model="m"), title="t"
            )
        await store.close()

    asyncio.run(body())


def garbage_in_the_middle(path: Path) -> None:
    kaiwa_db(path)
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(os.urandom(16384))


def garbage_in_the_schema(path: Path) -> None:
    kaiwa_db(path)
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(os.urandom(3000))


def truncated(path: Path) -> None:
    kaiwa_db(path)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def another_applications(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
        conn.execute("INSERT INTO contacts VALUES ('Aiko', '090-0000-0000')")
    conn.close()


def the_sdks_tables_and_another(path: Path) -> None:
    """The Agents SDK's tables beside a table of another program's: not a file kaiwa adopts (only the SDK's alone
    is, tests/cli/test_adopt.py)."""
    from kaiwa.store.sqlite.schema import SDK_TABLES

    with sqlite3.connect(path) as conn:
        conn.executescript(SDK_TABLES)
        conn.execute("INSERT INTO agent_sessions (session_id) VALUES ('theirs')")
        conn.execute("CREATE TABLE audit (at TEXT)")
    conn.close()


def agent_tables_of_another_shape(path: Path) -> None:
    """Tables named like the SDK's, shaped otherwise: another program's."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE agent_sessions (session_id TEXT PRIMARY KEY, owner TEXT)")
        conn.execute("CREATE TABLE agent_messages (id INTEGER PRIMARY KEY, session_id TEXT, body TEXT)")
        conn.execute("INSERT INTO agent_messages VALUES (1, 'theirs', 'hello')")
    conn.close()


def from_a_newer_kaiwa(path: Path) -> None:
    kaiwa_db(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE kaiwa_meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()


def read_only(path: Path) -> None:
    kaiwa_db(path)
    os.chmod(path, 0o400)


BAD_STORES: dict[str, tuple[Callable[[Path], None], str]] = {
    "corrupt pages": (garbage_in_the_middle, "damaged"),
    "corrupt schema": (garbage_in_the_schema, "damaged"),
    "truncated": (truncated, "truncated"),
    "another application's": (another_applications, "another application (tables: contacts)"),
    "the SDK's and another's": (the_sdks_tables_and_another, "another application (tables: audit)"),
    "agent tables of another shape": (agent_tables_of_another_shape, "another application"),
    "a newer kaiwa's": (from_a_newer_kaiwa, "newer kaiwa (store schema 99"),
    "read-only file": (read_only, "read-only"),
}


@pytest.mark.parametrize("kind", list(BAD_STORES))
def test_a_bad_store_is_one_line_and_left_as_it_was(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, kind: str) -> None:
    make, needle = BAD_STORES[kind]
    path = kaiwa.home / "bad.sqlite3"
    make(path)
    before = digest(path)
    others = sorted(p.name for p in kaiwa.home.iterdir())
    for args in (
        ["--input", "hello"],
        ["--input", "again", "--session-id", "0190a000-0000-7000-8000-000000000001"],
        ["sessions"],
    ):
        line = one_error_line(kaiwa(*args, timeout=SLOW, SESSION_DB_PATH=str(path)))
        assert needle in line and str(path) in line, line
        assert " — " in line  # …and what to do
    assert digest(path) == before
    assert sorted(p.name for p in kaiwa.home.iterdir()) == others  # no -wal, -shm or lock file left beside it
    assert upstream.model_requests() == []  # nothing was sent: the message is shown back instead


def test_a_store_on_a_read_only_filesystem(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    """A read-only mount (tmpfs remounted ro, in a user and mount namespace of its own)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    source = tmp_path / "source.sqlite3"
    kaiwa_db(source)
    mnt = tmp_path / "ro"
    mnt.mkdir()
    db = mnt / "sessions.sqlite3"
    script = (
        f"mount -t tmpfs tmpfs {mnt} && cp {source} {db} && mount -o remount,ro {mnt}"
        f" && sha256sum {db} && {{ {' '.join(kaiwa.command('--input', 'hello'))}; echo EXIT=$?; }}"
        f" ; sha256sum {db}; ls -a {mnt}"
    )
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no user namespaces here: {probe.stderr.decode().strip()}")
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=kaiwa.home,
        env={**kaiwa.env, "SESSION_DB_PATH": str(db)},
        timeout=SLOW,
    )
    lines = proc.stdout.splitlines()
    hashes = [line.split()[0] for line in lines if line.endswith(str(db))]
    assert len(hashes) == 2 and hashes[0] == hashes[1], proc.stdout + proc.stderr
    assert "EXIT=1" in lines, proc.stdout + proc.stderr
    line = one_error_line(Run(1, "", proc.stderr))
    assert "read-only" in line and str(mnt) in line, line
    assert upstream.model_requests() == []


def test_a_round_2_store_is_migrated_and_its_sessions_continue(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    from tests.store.test_store import make_round_2_db

    sessions = make_round_2_db(kaiwa.db)
    good, killed, _ = list(sessions)
    listed = kaiwa("sessions", timeout=SLOW)
    assert listed.code == 0, listed.err
    assert good in listed.out and killed in listed.out and "Terraform" in listed.out
    upstream.script(Reply(text="続きです"))
    run = kaiwa("--input", "続けて", "--session-id", killed, timeout=SLOW)
    assert run.code == 0, run.err
    said = [
        (m["role"], m["content"] if isinstance(m["content"], str) else m["content"][0]["text"])
        for m in upstream.model_requests()[-1].body["messages"]
        if m["role"] != "system"
    ]
    # The message round 2 left dangling (its process was killed mid-answer) is not sent again.
    assert said == [("user", "first"), ("assistant", "answer"), ("user", "続けて")]


@pytest.mark.parametrize("existing", [False, True])
def test_a_full_disk_when_the_store_opens_says_so(tmp_path: Path, existing: bool) -> None:
    """A filled tmpfs (in a user and mount namespace of its own): the line says the disk is full and to free space,
    not to set SESSION_DB_PATH."""
    (tmp_path / "home").mkdir()
    kaiwa = Kaiwa(tmp_path / "home", {})
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs unshare(1) and user namespaces")
    source = tmp_path / "source.sqlite3"
    kaiwa_db(source)
    mnt = tmp_path / "full"
    mnt.mkdir()
    db = mnt / "sessions.sqlite3"
    copy = f"cp {source} {db} && " if existing else ""
    script = (
        f"mount -t tmpfs -o size=4m tmpfs {mnt} && {copy}(dd if=/dev/zero of={mnt}/filler bs=1k 2>/dev/null; true)"
        f" && {' '.join(kaiwa.command('sessions'))}"
    )
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=kaiwa.home,
        env={**kaiwa.env, "SESSION_DB_PATH": str(db), "KAIWA_WARM": "0"},  # the warm process sees no such mount
        timeout=SLOW,
    )
    line = one_error_line(Run(proc.returncode, proc.stdout, proc.stderr))
    assert "full" in line and "free some space" in line and "SESSION_DB_PATH" not in line, line
