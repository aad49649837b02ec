"""The warm process (a zygote): imports kaiwa's libraries once, then forks one fresh child per call.

Started detached by a cold call (client.spawn). It holds `warm-<key>.lock` while it serves, listens on
`warm-<key>.sock` in a 0700 folder, checks each peer's uid (SO_PEERCRED), the call's code and interpreter stamp
and the environment its imports read, then forks. The child (child.py) takes the call's fds, folder, umask and
environment and runs the CLI; this process forwards the caller's signals to the child's process group, kills
it when the caller dies, and sends back its exit status. It never logs argv, environment or output.

It retires (stops listening, finishes its calls, exits) on a stamp mismatch, when its code changes on disk,
when its socket is taken away, after KAIWA_WARM_IDLE_MINUTES (30) without calls, on SIGTERM or `warm stop`.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from typing import Any

from . import protocol
from .admission import Admission
from .calls import Call, drain, rss, signal_group
from .children import Children
from .closure import Closure
from .paths import Files
from .preload import preload
from .stamp import code_stamp

CHECK_SECONDS = 30.0  # how often an idle warm process looks at its code and socket


class Zygote(Children):
    def __init__(self, files: Files) -> None:
        self.files = files
        self.log_fd = os.open(files.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.lock_fd = os.open(files.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another one runs or starts: BlockingIOError
        self.admission = Admission()
        self.idle = self.admission.idle
        self.started = time.time()
        self.served = 0
        self.calls: dict[Any, Call] = {}  # by connection
        self.children: dict[int, Call] = {}  # by pidfd
        self.listener: Any = None
        self.retired = ""
        self.last_active = time.monotonic()
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.spare: Call | None = None  # a child forked ahead, waiting for the next call
        self.spares = True  # off after a spare died unasked
        self.closure = Closure()  # the files its imports came from

    # -- start ---------------------------------------------------------------------------------------
    def start(self) -> None:
        began, cpu, imports_began = time.monotonic(), time.process_time(), time.time()
        self.admission.import_env = preload(self.log)
        threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
        if threads != 1:  # fork() copies one thread: a lock held by another would stay locked in every child
            raise RuntimeError(f"{threads} threads after the imports; a warm process must fork with one")
        self.closure.watch(imports_began)
        self.listener = self._listen()
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGTERM, lambda *_: self.retire("SIGTERM"))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        if self.closure.fd >= 0:
            self.selector.register(self.closure.fd, selectors.EVENT_READ, "closure")
        self.preload_seconds = (time.monotonic() - began, time.process_time() - cpu)
        self._write_info()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.files.failed)
        gc.collect()
        gc.freeze()  # the children's collections leave the shared imports alone (fewer copied pages)
        self.last_active = time.monotonic()  # idle from now, not from before the imports
        self.log(
            f"started pid {os.getpid()}: imports {self.preload_seconds[0]:.1f} s ({len(sys.modules)} modules), "
            f"{self._watched()} folders watched in {self.closure.cost * 1000:.0f} ms"
        )
        self._check_closure()

    def _watched(self) -> str:
        return f"{len(self.closure.folders)} (inotify)" if self.closure.fd >= 0 else f"{len(self.closure.stamp or ())}"

    def _check_closure(self) -> bool:
        """Retire if a file of the import closure changed; True then."""
        why = self.closure.changed()
        if why:
            self.retire(f"its libraries changed on disk: {why}")
        return bool(why)

    def _listen(self) -> Any:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        tmp = f".warm-{self.files.key}.{os.getpid()}.tmp"
        os.chdir(self.files.folder)  # relative names: a long folder still fits in sun_path
        try:
            sock.bind(tmp)
            os.chmod(tmp, 0o600)
            sock.listen(64)
            os.replace(tmp, os.path.basename(self.files.socket))  # atomic: callers never see no socket
        finally:
            os.chdir("/")
        sock.setblocking(False)
        self.socket_inode = os.stat(self.files.socket).st_ino
        return sock

    def _write_info(self) -> None:
        info = {"pid": os.getpid(), "started": self.started, "python": sys.executable, "socket": self.files.socket}
        tmp = f"{self.files.info}.{os.getpid()}"
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(info, f)
        os.replace(tmp, self.files.info)

    def log(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            if os.fstat(self.log_fd).st_size > 1 << 20:
                os.ftruncate(self.log_fd, 0)
            os.write(self.log_fd, f"{stamp} [{os.getpid()}] {line}\n".encode(errors="replace"))
        except OSError:
            pass

    # -- the loop ------------------------------------------------------------------------------------
    def serve(self) -> Call | None:
        """Serve until retired and done (returns None), or return the call in a freshly forked child."""
        next_check = time.monotonic() + CHECK_SECONDS
        while True:
            if self.retired and not self.calls and not self.children:
                self.log(f"exits ({self.retired}); served {self.served} calls")
                return None
            now = time.monotonic()
            if not self.calls and not self.children and now - self.last_active > self.idle:
                self.retire(f"idle for {self.idle / 60:g} minutes")
                continue
            if now >= next_check:
                next_check = now + CHECK_SECONDS
                self._check_still_current()
            if self.spare is None and self.spares and not self.retired and not self.calls and not self.children:
                spare = self._make_spare()  # while nothing waits on this process: the next call skips the fork
                if spare is not None:
                    return spare
            timeout = max(0.0, min(next_check, self.last_active + self.idle) - now)
            for key, _events in self.selector.select(timeout):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    drain(self.wake_r)
                elif key.data == "closure":
                    self._check_closure()
                elif isinstance(key.data, tuple) and key.data[0] == "pid":
                    self._reap(key.data[1])
                elif isinstance(key.data, tuple):
                    self._on_ctl(key.data[1])
                else:
                    child = self._on_readable(key.data)
                    if child is not None:
                        return child

    def _check_still_current(self) -> None:
        try:
            if os.stat(self.files.socket).st_ino != self.socket_inode:
                self.retire("its socket was replaced")
        except FileNotFoundError:
            self.retire("its socket was removed")
        if not self.retired and code_stamp() != self.admission.code:
            self.retire("kaiwa's files changed")
        if not self.retired:
            self._check_closure()

    def retire(self, why: str) -> None:
        if self.retired:
            return
        self.retired = why
        if self.closure.fd >= 0:
            self.selector.unregister(self.closure.fd)
            self.closure.close()
        if self.listener is not None:
            self.selector.unregister(self.listener)
            self.listener.close()
            try:
                if os.stat(self.files.socket).st_ino == self.socket_inode:
                    os.unlink(self.files.socket)
            except OSError:
                pass
        os.close(self.lock_fd)  # a successor may start while the calls in flight finish
        self.lock_fd = -1
        if self.spare is not None:
            spare, self.spare = self.spare, None
            self._drop_spare(spare)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.log(f"accept failed: {exc}")
                return
            peer, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if uid != os.getuid():
                self.log(f"refused a caller with uid {uid}")
                sock.close()
                continue
            sock.setblocking(False)
            call = Call(sock)
            call.peer = peer
            self.calls[sock] = call
            self.selector.register(sock, selectors.EVENT_READ, call)

    def _on_readable(self, call: Call) -> Call | None:
        try:
            call.reader.fill(call.sock)
            while (message := call.reader.frame()) is not None:
                child = self._on_message(call, message)
                if child is not None:
                    return child
        except (BlockingIOError, InterruptedError):
            return None
        except (OSError, protocol.ProtocolError) as exc:
            self.log(f"a caller's connection failed: {type(exc).__name__}")
            call.reader.eof = True
        if call.reader.eof:
            self._caller_gone(call)
        return None

    def _on_message(self, call: Call, message: Any) -> Call | None:
        if isinstance(message, dict):
            op = message.get("op")
            if op == "status":
                self._reply(call, self.status(asker=call.peer))
            elif op == "stop":
                self.retire("asked to stop")
                self._reply(call, ("ok",))
            elif op == "call" and call.request is None:
                call.request = message
                answer = self._admit(call)
                self._reply(call, answer, close=answer[0] != "ok")
                call.accepted = answer[0] == "ok"
            return None
        if message[0] == "go" and call.accepted and not call.pid:
            return self._fork(call)
        if message[0] == "sig" and call.pid:
            signal_group(call.pid, int(message[1]))
        return None

    def _admit(self, call: Call) -> tuple[Any, ...]:
        request = call.request or {}
        if not self.retired and self._check_closure():  # an edit just before this call: the event is queued
            return ("no", f"kaiwa's libraries changed since the warm process started ({self.retired})", True)
        if self.retired:
            return ("no", f"the warm process is retiring ({self.retired})", True)
        if self.admission.stale(request):
            self.retire("a call came with other code or another interpreter")
            return ("no", "kaiwa's code or interpreter changed since the warm process started", True)
        refused = self.admission.refusal(request, len(call.reader.fds), len(self.children))
        if refused is None:
            return ("ok",)
        why, elsewhere = refused  # elsewhere: the names a call's own warm process is keyed by
        return ("no", why, False, sorted(self.admission.import_env) if elsewhere else None)

    def _reply(self, call: Call, message: Any, close: bool = False) -> None:
        try:
            call.sock.setblocking(True)
            call.sock.settimeout(2.0)
            protocol.send(call.sock, message)
            call.sock.setblocking(False)
        except OSError:
            close = True
        if close and call.sock in self.calls:
            self.selector.unregister(call.sock)
            del self.calls[call.sock]
            call.close()

    def status(self, asker: int = 0) -> dict[str, Any]:
        """`asker`: the pid that asks; not a running call, when it is one of this process's own children (a
        `warm status` served warm)."""
        return {
            "pid": os.getpid(),
            "started": self.started,
            "served": self.served,
            "running": sum(1 for call in self.children.values() if call.pid != asker),
            "spare": self.spare is not None,
            "rss": rss(),
            "idle_minutes": self.idle / 60,
            "idle_for": time.monotonic() - self.last_active,
            "children_cpu": os.times().children_user + os.times().children_system,  # of the calls served
            "imports_seconds": self.preload_seconds[0],
            "imports_cpu": self.preload_seconds[1],
            "watched_folders": self._watched(),
            "modules": len(sys.modules),
            "python": sys.executable,
            "socket": self.files.socket,
            "retiring": self.retired,
            "import_env": sorted(self.admission.import_env),  # the names a call must share with it (no values)
        }


CALLER_GRACE = 5.0  # seconds the imports wait for the call that started this process to end


def main(folder: str, key: str, caller: int = 0) -> None:
    files = Files(folder, key)
    try:
        zygote = Zygote(files)
    except BlockingIOError:
        return  # another warm process for this installation is running or starting
    _let_the_caller_finish(caller)
    try:
        zygote.start()
    except BaseException as exc:
        zygote.log(f"failed to start: {type(exc).__name__}: {exc}")
        from .client import _digest

        with open(files.failed, "wb") as f:
            f.write(_digest(zygote.admission.code))
        raise SystemExit(1) from None
    call = zygote.serve()
    if call is None:
        return
    from .child import run_call

    if call.sock is None:  # a spare: wait for a call (the end of the line: the warm process went away)
        call.child_ctl.setblocking(True)
        request = call.reader.read(call.child_ctl)
        if not isinstance(request, dict):
            os._exit(0)
        call.request = request
    run_call(call.request or {}, call.reader.fds, call.child_ctl, files.folder)


def _let_the_caller_finish(caller: int) -> None:
    """Import once the cold call that started this process has ended (or after CALLER_GRACE): on a small machine
    the two imports would share the CPU, and a short first call (`--help`, `sessions`) would pay for it."""
    try:
        pidfd = os.pidfd_open(caller) if caller > 0 else -1
    except OSError:
        return  # already gone
    if pidfd >= 0:
        with selectors.DefaultSelector() as waiting:
            waiting.register(pidfd, selectors.EVENT_READ)
            waiting.select(CALLER_GRACE)
        os.close(pidfd)
