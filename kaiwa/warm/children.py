"""The warm process's children: forking one per call (or handing the call to a spare forked ahead), what a child
leaves behind of the zygote, its exit code said over its control socket, its reaping, and a caller that went away."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import time
from typing import Any

from . import protocol
from .calls import Call, leave_zygote, signal_group
from .closure import Closure


class Children:
    """Part of the Zygote (server.py): the state it shares is declared here for the type checker."""

    selector: selectors.BaseSelector
    calls: dict[Any, Call]
    children: dict[int, Call]
    listener: Any
    spare: Call | None
    spares: bool
    served: int
    last_active: float
    wake_r: int
    wake_w: int
    lock_fd: int
    log_fd: int
    closure: Closure

    def log(self, line: str) -> None: ...

    def _reply(self, call: Call, message: Any, close: bool = False) -> None: ...

    def _fork(self, call: Call) -> Call | None:
        """Hand the call to the spare child, else fork one for it."""
        spare, self.spare = self.spare, None
        if spare is not None:
            try:
                protocol.send(spare.ctl, call.request, call.reader.fds)
            except OSError:
                self._drop_spare(spare)
                spare = None
        if spare is None:
            ctl, child_ctl = socket.socketpair()
            pid = os.fork()
            if pid == 0:
                ctl.close()
                self._become_child(keep=call)
                call.child_ctl = child_ctl
                return call
            child_ctl.close()
            call.pid, call.ctl = pid, ctl
            try:
                call.pidfd = os.pidfd_open(pid)
            except OSError as exc:
                self.log(f"pidfd_open failed ({exc}); killing the child")
                signal_group(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                ctl.close()
                self._reply(call, ("exit", 1), close=True)
                return None
            self.selector.register(call.pidfd, selectors.EVENT_READ, ("pid", call))
        else:
            call.pid, call.pidfd, call.ctl = spare.pid, spare.pidfd, spare.ctl
            self.selector.modify(call.pidfd, selectors.EVENT_READ, ("pid", call))
        call.ctl.setblocking(False)
        self.selector.register(call.ctl, selectors.EVENT_READ, ("ctl", call))
        call.reader.close_fds()  # the child has them now
        call.request = None  # the environment (secrets) stays in the child only
        self.served += 1
        self.last_active = time.monotonic()
        self.children[call.pidfd] = call
        self._reply(call, ("started", call.pid))
        return None

    def _make_spare(self) -> Call | None:
        """Fork a child that waits for the next call (returned in that child; None here)."""
        ctl, child_ctl = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ctl.close()
            self._become_child(keep=None)
            spare = Call(None)
            spare.child_ctl = child_ctl
            return spare
        child_ctl.close()
        spare = Call(None)
        spare.pid, spare.ctl = pid, ctl
        try:
            spare.pidfd = os.pidfd_open(pid)
        except OSError:
            self.spares = False
            self._drop_spare(spare)
            return None
        self.selector.register(spare.pidfd, selectors.EVENT_READ, ("pid", spare))
        self.spare = spare
        return None

    def _drop_spare(self, spare: Call) -> None:
        signal_group(spare.pid, signal.SIGKILL)
        if spare.pidfd >= 0:
            with contextlib.suppress(KeyError):
                self.selector.unregister(spare.pidfd)
            os.close(spare.pidfd)
        os.waitpid(spare.pid, 0)
        spare.ctl.close()

    def _become_child(self, keep: Call | None) -> None:
        """In the fresh child: drop everything of the zygote's (but the call's passed fds), its own session."""
        sockets: list[Any] = [self.selector, *(c.sock for c in self.calls.values())]
        sockets += [c.ctl for c in self.children.values() if c.ctl is not None]
        if self.spare is not None:
            sockets.append(self.spare.ctl)
        if self.listener is not None:
            sockets.append(self.listener)
        fds = [self.wake_r, self.wake_w, self.lock_fd, self.log_fd, self.closure.fd, *self.children]
        if self.spare is not None:
            fds.append(self.spare.pidfd)
        leave_zygote(fds, sockets)
        for other in self.calls.values():
            if other is not keep:
                other.reader.close_fds()

    def _on_ctl(self, call: Call) -> None:
        """The child's own word: its exit code, said before it tears down (the caller need not wait for that)."""
        reader = protocol.Reader()
        try:
            reader.fill(call.ctl)
            message = reader.frame()
        except (BlockingIOError, InterruptedError):
            return
        except (OSError, protocol.ProtocolError):
            message = None
        if message and message[0] == "exit":
            call.finished = True
            if call.sock in self.calls:
                self._reply(call, ("exit", int(message[1])), close=True)
        self.selector.unregister(call.ctl)
        call.ctl.close()
        call.ctl = None

    def _caller_gone(self, call: Call) -> None:
        """The caller closed its end: before the call started, drop it; during, abandon the turn."""
        self.selector.unregister(call.sock)
        del self.calls[call.sock]
        if call.pid and call.pidfd in self.children and not call.finished:
            signal_group(call.pid, signal.SIGKILL)  # turns are atomic: nothing half-stored
            self.log(f"caller of child {call.pid} went away; killed it")
        call.close()

    def _reap(self, call: Call) -> None:
        self.selector.unregister(call.pidfd)
        os.close(call.pidfd)
        _, status, usage = os.wait4(call.pid, 0)
        if call.sock is None:  # the spare died before any call: something kills them; fork per call instead
            self.log(f"the spare child {call.pid} ended by itself (status {status:#x}); no more spares")
            self.spare, self.spares = None, False
            call.ctl.close()
            return
        del self.children[call.pidfd]
        if call.ctl is not None:
            self.selector.unregister(call.ctl)
            call.ctl.close()
        self.last_active = time.monotonic()
        cpu = (usage.ru_utime + usage.ru_stime) * 1000
        self.log(f"child {call.pid}: status {status:#x}, {cpu:.0f} ms CPU, {usage.ru_minflt} pages copied or mapped")
        if call.sock in self.calls:
            if os.WIFSIGNALED(status):
                self._reply(call, ("signal", os.WTERMSIG(status)), close=True)
            else:
                self._reply(call, ("exit", os.waitstatus_to_exitcode(status)), close=True)
