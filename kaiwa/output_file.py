"""Every file kaiwa writes because the user asked (`sessions export -o FILE`): whole or not at all.

The text goes to a new private file in the target's folder, is flushed to disk, then renamed over the target: a
full disk or a kill leaves the old file exactly as it was, and a reader never sees half of it. Never through a
link (a planted `export.md → ~/.bashrc` would otherwise replace .bashrc), never over something that is not a
regular file, never over the session store or its side files (`-o sessions.sqlite3` would replace every
conversation).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import KaiwaError, UsageError

STORE_SIDE_FILES = ("", "-wal", "-shm", "-journal", ".lock")


def _same(target: Path, protected: Path) -> bool:
    try:
        return os.path.samefile(target, protected)
    except OSError:
        return os.path.realpath(target) == os.path.realpath(protected)


def _refuse_target(path: Path, protect: Iterable[Path], hint: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise KaiwaError(f"cannot write {path}: {exc.strerror}", hint) from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise UsageError(f"{path} is a symbolic link; kaiwa does not write through links", hint)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path} is a folder", hint)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path} is not a regular file", hint)
    for store in protect:
        for suffix in STORE_SIDE_FILES:
            if _same(path, Path(f"{store}{suffix}")):
                raise UsageError(f"{path} is the session store itself; writing there would replace it", hint)


def write_replacing(path: Path, text: str, *, protect: Iterable[Path] = (), hint: str = "give another path") -> None:
    """Write `text` to `path` (mode 0600) by renaming a finished temporary file over it, or a KaiwaError line that
    says the old file is as it was. `protect`: files (with their -wal, -shm, -journal, .lock) never written over."""
    path = Path(os.path.expanduser(str(path)))
    _refuse_target(path, list(protect), hint)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)  # O_EXCL, 0600
    except OSError as exc:
        raise KaiwaError(f"cannot write {path}: {exc.strerror}", hint) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # replaces a link's own entry, never its target (and was refused above anyway)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        kept = " (the old file is as it was)" if path.exists() else ""
        raise KaiwaError(f"cannot write {path}: {exc.strerror or exc}{kept}", hint) from None
    with contextlib.suppress(OSError):  # the rename itself on disk too
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
