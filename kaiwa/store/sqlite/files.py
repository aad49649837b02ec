"""The SQLite file itself: checked before kaiwa opens it, created private, and its errors said in one line.

Every check here only reads: a file kaiwa refuses is left exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from ... import dirs
from ...errors import KaiwaError
from . import owned

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
HINT = "set SESSION_DB_PATH to a writable file path"
DAMAGED_HINT = "restore it from a backup, or set SESSION_DB_PATH to another file (kaiwa left this one as it was)"


def expand(path: Path | str) -> Path:
    return Path(os.path.expanduser(str(path)))


def _writable(path: Path) -> bool:
    """Writable by this process, also for root (for whom access() is always true): the owner's write bit and
    a read-write filesystem count too."""
    if not os.access(path, os.W_OK):
        return False
    if not os.stat(path).st_mode & stat.S_IWUSR:
        return False
    return not os.statvfs(path).f_flag & os.ST_RDONLY


def truncated(path: Path, head: bytes) -> bool:
    """The header promises more pages than the file holds (and no WAL file could still supply them)."""
    if len(head) < HEADER_SIZE:
        return True
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    header_size_valid = head[24:28] == head[92:96] and pages > 0
    wal = Path(f"{path}-wal")
    if not header_size_valid or (wal.exists() and wal.stat().st_size > 0):
        return False
    return path.stat().st_size < pages * page_size


def check_db_path(path: Path, own_folder: bool = False) -> Path:
    """Refuse a path that cannot hold the store, with a line that says how to fix it. Reads only, except that
    `own_folder` (kaiwa's data folder, not a path the user gave) is created 0700 when missing."""
    path = expand(path)
    folder = path.parent if str(path.parent) else Path(".")
    if own_folder and not folder.exists():
        dirs.make_private_dir(str(folder))
    owned.check_folder(folder)
    if not folder.is_dir():
        raise KaiwaError(f"the folder of SESSION_DB_PATH does not exist: {folder}", f"create it or {HINT}")
    if path.is_dir() and not path.is_symlink():
        raise KaiwaError(f"SESSION_DB_PATH is a folder, not a file: {path}", HINT)
    owned.check(path)  # not a link, not another user's: before anything reads it
    if path.exists():
        try:
            with open(path, "rb") as f:
                head = f.read(HEADER_SIZE)
        except OSError as exc:
            raise KaiwaError(f"cannot read SESSION_DB_PATH {path}: {exc.strerror}", HINT) from None
        if head and not head.startswith(SQLITE_MAGIC):
            raise KaiwaError(f"SESSION_DB_PATH is not an SQLite database: {path}", HINT)
        if head and truncated(path, head):
            raise KaiwaError(f"the session database {path} is truncated (damaged)", DAMAGED_HINT)
        if not _writable(path):
            raise KaiwaError(
                f"the session database {path} is read-only",
                "make it writable (chmod u+w) or set SESSION_DB_PATH to a writable file; kaiwa did not change it",
            )
        for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            if extra.exists() and not _writable(extra):
                raise KaiwaError(f"the session database's {extra.name} is read-only", "make it writable (chmod u+w)")
    if not _writable(folder):
        raise KaiwaError(
            f"cannot write in the folder of SESSION_DB_PATH: {folder} is read-only",
            "SQLite needs to create its -wal and -shm files there; " + HINT,
        )
    return path


def create_private(path: Path) -> bool:
    """Create the file 0600 whatever the umask (True), or leave an existing one alone (False)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return True


_WARNED: set[Path] = set()  # said once per process (a command may open the store more than once)


def too_open(path: Path) -> str | None:
    """A warning line for a database others can read or write, or None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077 and path.resolve() not in _WARNED:
        _WARNED.add(path.resolve())
        return (
            f"warning: {path} is readable by others (mode {mode:04o}); "
            f"kaiwa leaves it so — `chmod 600 {path}` makes it private"
        )
    return None


FULL_BELOW = 64 * 1024  # bytes free: less than a few pages is a full disk to SQLite


def disk_full(path: Path) -> bool:
    try:
        vfs = os.statvfs(path.parent if str(path.parent) else ".")
    except OSError:
        return False
    return vfs.f_bavail * vfs.f_frsize < FULL_BELOW


def explain_os(exc: OSError, path: Path) -> KaiwaError:
    """One line for an OS error making the store's files (kaiwa's own opens, before SQLite's)."""
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or disk_full(path):
        return KaiwaError(f"the disk holding {path} is full", "free some space and try again")
    return KaiwaError(f"cannot use the session database {path} ({exc.strerror or exc})", HINT)


def explain(exc: sqlite3.Error, path: Path) -> KaiwaError:
    """One line for an SQLite error, or the error itself when it is a bug."""
    text = str(exc)
    low = text.lower()
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return KaiwaError(f"the session database {path} is damaged ({text})", DAMAGED_HINT)
    if "readonly" in low or "read-only" in low:
        return KaiwaError(
            f"the session database {path} is read-only ({text})", "make it writable or set SESSION_DB_PATH"
        )
    if "locked" in low or "busy" in low:
        return KaiwaError(
            f"the session database {path} stayed busy: other kaiwa processes kept it locked",
            "try again in a moment",
        )
    if "disk is full" in low or "full" in low or disk_full(path):  # a full disk is often just "disk I/O error"
        return KaiwaError(f"the disk holding {path} is full", "free some space and try again")
    if "unable to open" in low or "disk i/o" in low:
        return KaiwaError(f"cannot use the session database {path} ({text})", HINT)
    return KaiwaError(f"the session database {path} failed: {text}", "run again with --debug and report it")
