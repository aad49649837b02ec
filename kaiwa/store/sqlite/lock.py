"""One turn at a time per session, across processes: a byte-range lock in `<db>.lock`, at an offset derived from
the session id. The kernel drops it when its holder dies, however it dies, so a killed turn never wedges a session.

Linux's open-file-description locks (F_OFD_SETLK) conflict between two opens in the SAME process too (the REPL,
tests); elsewhere POSIX `lockf` is used, which serialises processes only.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from ...errors import KaiwaError
from .files import explain_os
from .owned import open_owned

POLL = 0.05


def _offset(session_id: str) -> int:
    return zlib.crc32(session_id.encode()) & 0x7FFFFFFF


def try_lock(fd: int, offset: int) -> bool:
    """Take the byte at `offset` without waiting; False if someone else holds it."""
    ofd = getattr(fcntl, "F_OFD_SETLK", None)
    try:
        if ofd is not None:
            # struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks), padding.
            fcntl.fcntl(fd, ofd, struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0))
        else:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


@asynccontextmanager
async def session_lock(
    lock_path: Path, session_id: str, on_wait: Callable[[], None] | None, timeout: float
) -> AsyncIterator[None]:
    offset = _offset(session_id)
    try:
        fd = open_owned(lock_path, os.O_RDWR)
    except OSError as exc:
        raise explain_os(exc, lock_path) from exc
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while not try_lock(fd, offset):
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            if time.monotonic() >= deadline:
                raise KaiwaError(
                    f"session {session_id} is busy: another kaiwa process has been in a turn on it for {timeout:g} s",
                    "wait for it to finish and try again (KAIWA_LOCK_TIMEOUT sets how long to wait)",
                )
            await asyncio.sleep(POLL)
        yield
    finally:
        os.close(fd)  # releases the lock
