"""The store's files are the user's own: in a sticky shared folder another user (nobody, through setpriv) plants
the database's side files, a symlink in its place, a `.lock` it holds a read lock on. kaiwa refuses each in one
line, before a byte of the owner's turn reaches it; a store of the user's own in that folder still works, its side
files made 0600. chat.py runs as a subprocess through the real proxy."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Kaiwa
from tests.harness.other_user import NOBODY_UID, as_nobody, held_by_nobody, shared_folder
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply
from tests.store.test_reliability_files import one_error_line


@pytest.fixture
def shared() -> Iterator[Path]:
    with shared_folder() as folder:
        yield folder


def plant(path: Path) -> None:
    """nobody creates `path`, empty and writable by everyone, as a squatter would."""
    name = str(path)
    as_nobody(f"import os; os.close(os.open({name!r}, os.O_CREAT | os.O_WRONLY, 0o666)); os.chmod({name!r}, 0o666)")


def turn(kaiwa: Kaiwa, db: Path, text: str = "my secret plan") -> str:
    return one_error_line(kaiwa("--input", text, SESSION_DB_PATH=str(db)))


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal", ".lock"])
def test_a_side_file_another_user_planted_is_refused(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, shared: Path, suffix: str
) -> None:
    db = shared / "sessions.sqlite3"
    planted = Path(f"{db}{suffix}")
    plant(planted)
    line = turn(kaiwa, db)
    assert str(planted) in line and "another user (nobody)" in line and " — " in line, line
    assert planted.stat().st_size == 0 and planted.stat().st_uid == NOBODY_UID  # nothing of the turn went there
    assert upstream.model_requests() == []  # refused before the message was sent


def test_a_symlink_in_place_of_the_store_is_refused(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, shared: Path) -> None:
    theirs = shared / "mallory"
    as_nobody(f"import os; os.mkdir({str(theirs)!r}, 0o777); os.chmod({str(theirs)!r}, 0o777)")
    db = shared / "sessions.sqlite3"
    as_nobody(f"import os; os.symlink({str(theirs / 'loot.sqlite3')!r}, {str(db)!r})")
    line = turn(kaiwa, db)
    assert str(db) in line and "symbolic link" in line, line
    assert not (theirs / "loot.sqlite3").exists()  # no database made in the planter's folder
    # a link to a side file, too: never followed
    wal_target = theirs / "wal"
    os.unlink(db)
    as_nobody(f"import os; os.symlink({str(wal_target)!r}, {str(db) + '-wal'!r})")
    line = turn(kaiwa, db)
    assert "-wal" in line and "symbolic link" in line, line
    assert not wal_target.exists() and not db.exists()


def test_a_lock_file_another_user_holds_is_refused_not_waited_on(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, shared: Path
) -> None:
    db = shared / "sessions.sqlite3"
    lock = Path(f"{db}.lock")
    plant(lock)
    holder = (
        "import fcntl, os, struct\n"
        f"fd = os.open({str(lock)!r}, os.O_RDONLY)\n"
        "fcntl.fcntl(fd, fcntl.F_SETLK, struct.pack('hhqqi4x', fcntl.F_RDLCK, 0, 0, 0, 0))"
    )
    with held_by_nobody(holder):
        line = turn(kaiwa, db)
    assert str(lock) in line and "another user" in line and "busy" not in line, line


def test_a_folder_anyone_may_write_without_the_sticky_bit_is_refused(kaiwa: Kaiwa, shared: Path) -> None:
    os.chmod(shared, 0o777)
    line = turn(kaiwa, shared / "sessions.sqlite3")
    assert "writable by everyone" in line and "sticky" in line, line
    assert list(shared.iterdir()) == []


def test_the_users_own_store_in_a_shared_folder_works_and_stays_private(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, shared: Path
) -> None:
    db = shared / "sessions.sqlite3"
    upstream.script(Reply(text="fine"), Reply(text="still fine"))
    first = kaiwa("--input", "hello", SESSION_DB_PATH=str(db))
    assert first.code == 0, first.err
    again = kaiwa("-c", "--input", "again", SESSION_DB_PATH=str(db))
    assert again.code == 0 and again.session_id == first.session_id, again.err
    for path in shared.iterdir():  # the database, and the lock (SQLite removed -wal and -shm on close)
        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid(), path
        assert stat.S_IMODE(st.st_mode) == 0o600, (path, oct(st.st_mode))
