"""The wire between a call and the warm process: frames of a 4-byte length and a `marshal`led value, over a
Unix stream socket; the call's stdin, stdout, stderr and working folder travel as SCM_RIGHTS with the request.

marshal, not json or pickle: it is built in (no import time for the client) and both ends run the same
interpreter (the stamp checks it). The peer is the same user (SO_PEERCRED, a 0700 folder).

Call → warm:  {"op": "call", …} + fds;  ("go",);  ("sig", n)      Warm → call: ("ok",) or ("no", why, stale);
              {"op": "status"}, {"op": "stop"}                      ("started", pid); ("exit", code) or ("signal", n)
"""

from __future__ import annotations

import _socket
import marshal
import os
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs the caller milliseconds (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any


MAX_FRAME = 8 << 20  # argv + environment; Linux's ARG_MAX is 2 MiB
MAX_FDS = 4
_INT = 4


class ProtocolError(Exception):
    pass


def _fd_bytes(fds: list[int]) -> bytes:
    return b"".join(fd.to_bytes(_INT, sys.byteorder, signed=True) for fd in fds)


def send(sock: Any, value: Any, fds: list[int] | None = None) -> None:
    data = marshal.dumps(value)
    frame = len(data).to_bytes(4, "big") + data
    if fds:
        sent = sock.sendmsg([frame], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _fd_bytes(fds))])
        frame = frame[sent:]
    if frame:
        sock.sendall(frame)


class Reader:
    """Frames out of a byte stream (blocking or fed by an event loop), with any fds that came along."""

    def __init__(self) -> None:
        self.buffer = b""
        self.fds: list[int] = []
        self.eof = False

    def fill(self, sock: Any, size: int = 65536) -> None:
        """One recvmsg; collects passed fds. Raises BlockingIOError on an empty non-blocking socket."""
        data, ancdata, _flags, _addr = sock.recvmsg(size, _socket.CMSG_SPACE(MAX_FDS * _INT))
        for level, kind, payload in ancdata:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % _INT
                self.fds += [
                    int.from_bytes(payload[i : i + _INT], sys.byteorder, signed=True) for i in range(0, usable, _INT)
                ]
        if not data:
            self.eof = True
        self.buffer += data
        if len(self.buffer) > MAX_FRAME + 4:
            raise ProtocolError("frame too large")

    def frame(self) -> Any:
        """The next complete frame's value, or None when it has not all arrived."""
        if len(self.buffer) < 4:
            return None
        size = int.from_bytes(self.buffer[:4], "big")
        if size > MAX_FRAME:
            raise ProtocolError("frame too large")
        if len(self.buffer) < 4 + size:
            return None
        data, self.buffer = self.buffer[4 : 4 + size], self.buffer[4 + size :]
        try:
            return marshal.loads(data)
        except (EOFError, ValueError, TypeError) as exc:
            raise ProtocolError(f"bad frame: {exc}") from None

    def read(self, sock: Any) -> Any:
        """Block until a whole frame arrives (None at end of stream)."""
        while True:
            value = self.frame()
            if value is not None or self.eof:
                return value
            self.fill(sock)

    def close_fds(self) -> None:
        for fd in self.fds:
            try:  # noqa: SIM105 (contextlib is an import the caller does not pay for)
                os.close(fd)
            except OSError:
                pass
        self.fds = []
