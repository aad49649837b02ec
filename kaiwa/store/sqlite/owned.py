"""The store's files are the user's own: the database, its side files (-wal, -shm, -journal) and kaiwa's `.lock`.

SQLite opens whatever sits at those names, and follows links. In a folder others can write to (a sticky shared
folder, /tmp) another user could plant them: a -wal that receives the owner's turns, a database symlinked into
the planter's folder, a `.lock` held so every turn is busy. So kaiwa uses a file only if it is a regular file (not a
link, never followed: O_NOFOLLOW), owned by this user and not writable by everyone, and refuses in one line
otherwise. The side files SQLite would create later are created now, 0600: in a sticky folder nobody else can
then replace them.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ...errors import StoreError

SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
CREATED_SUFFIXES = ("-wal", "-shm")  # what SQLite creates beside a WAL database (-journal only for a rollback)


def _owner(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return f"uid {uid}"


def _problem(st: os.stat_result) -> str | None:
    """Why a file with this status is not the user's own to use, or None."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link (kaiwa never opens its store through a link)"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_uid != os.geteuid():
        return f"belongs to another user ({_owner(st.st_uid)})"
    if st.st_mode & stat.S_IWOTH:
        return f"is writable by everyone (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def refusal(path: Path, problem: str) -> StoreError:
    return StoreError(
        f"{path} {problem}; kaiwa left it alone and did not open the store",
        "remove it if it is not yours to keep (or ask its owner to), or set SESSION_DB_PATH to a file in a folder"
        " only you can write",
    )


def check(path: Path) -> bool:
    """True if `path` exists and is the user's own (False: it does not exist); a StoreError line otherwise."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if (problem := _problem(st)) is not None:
        raise refusal(path, problem)
    return True


def check_folder(folder: Path) -> None:
    """A folder everyone may write to without the sticky bit lets anyone swap the store's files: refused."""
    try:
        st = os.stat(folder)
    except OSError:
        return  # said by the caller's own checks (no such folder, not readable)
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise StoreError(
            f"{folder} is writable by everyone (mode {stat.S_IMODE(st.st_mode):04o}, no sticky bit): anyone could"
            " replace the session database there; kaiwa did not open it",
            "set SESSION_DB_PATH to a file in a folder only you can write (or chmod o-w / +t the folder)",
        )


def open_owned(path: Path, flags: int) -> int:
    """os.open for one of the store's files, created 0600 if missing; never through a link, never another's."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refusal(path, "is a symbolic link (kaiwa never opens its store through a link)") from None
        if exc.errno in (errno.EACCES, errno.EPERM) and path.exists():
            check(path)  # a planted file the kernel would not let us open (protected_regular): said as such
        raise
    try:
        st = os.fstat(fd)
        if (problem := _problem(st)) is not None:
            raise refusal(path, problem)
        if st.st_size == 0 and stat.S_IMODE(st.st_mode) != 0o600:
            os.fchmod(fd, 0o600)  # just made (or empty): private whatever the umask
    except BaseException:
        os.close(fd)
        raise
    return fd


def claim_side_files(db: Path) -> list[Path]:
    """Every side file of `db` that exists is the user's own; the ones SQLite would create are made now, 0600.
    Returns those it made (`release` removes them again when the store is refused)."""
    for suffix in SIDE_SUFFIXES:
        check(Path(f"{db}{suffix}"))
    check(Path(f"{db}.lock"))
    made = []
    for suffix in CREATED_SUFFIXES:
        path = Path(f"{db}{suffix}")
        existed = path.exists()
        os.close(open_owned(path, os.O_RDONLY))
        if not existed:
            made.append(path)
    return made


def release(made: list[Path]) -> None:
    """Remove side files `claim_side_files` made that are still empty: a refused store is left as it was."""
    for path in made:
        try:
            if os.lstat(path).st_size == 0:
                path.unlink()
        except OSError:
            pass
