"""One caller of the warm process, and what the warm process does to processes: signal a child's group, drain
its wake-up pipe, read its own memory, and leave it all behind in a freshly forked child."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from . import protocol


class Call:
    """One caller: its connection, request and passed fds, and (once forked) the child."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock  # None: a spare child, forked before any call
        self.peer = 0  # the caller's pid (SO_PEERCRED)
        self.reader = protocol.Reader()
        self.request: dict[str, Any] | None = None
        self.accepted = False
        self.pid = 0
        self.pidfd = -1
        self.ctl: Any = None  # the warm process's end of the line to its child (the child's exit code comes on it)
        self.child_ctl: Any = None  # the child's end, in the child
        self.finished = False  # the child said its exit code: it is only tearing down now

    def close(self) -> None:
        self.reader.close_fds()
        self.sock.close()


def leave_zygote(fds: list[int], closables: list[Any]) -> None:
    """In a fresh child: the zygote's signal handlers undone, its fds and sockets closed, a session of its own
    (one process group: the caller's signals reach it and whatever it starts)."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for closable in closables:
        closable.close()
    for fd in fds:
        if fd >= 0:
            os.close(fd)
    os.setsid()


def signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:  # not yet its own group leader (setsid still to come)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    except PermissionError:
        pass


def drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def rss() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
