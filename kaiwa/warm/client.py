"""The call's side: hand argv, environment, working folder, umask and stdin/stdout/stderr to the warm process,
forward signals, and exit as the child did. Any fault → None: the caller runs cold (and may start a warm process).

Imports only what the interpreter has already loaded or builds in (os, sys, _socket, _signal, marshal, zlib),
so a warm call costs the interpreter's start and little more.
"""

from __future__ import annotations

import _signal
import _socket
import marshal
import os
import sys

from . import protocol
from .paths import Files, Unavailable, exit_file, runtime_dir, variants
from .stamp import code_stamp, context, flags, interpreter, variant

TYPE_CHECKING = False  # not typing's: importing typing costs the caller milliseconds (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

MAX_VARIANTS = 2  # warm processes for other import-time environments, besides the first one (each idles out)
ANSWER_TIMEOUT = 3.0  # connect and accept; after that the call has started and may take as long as it takes
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGWINCH", "SIGQUIT", "SIGUSR1", "SIGUSR2")
COLD_OPTIONS = ("--install-completion", "--show-completion")
COERCED = ("C.UTF-8", "C.utf8", "UTF-8")  # what PEP 538 sets LC_CTYPE to in a C locale
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSW", "CREDENTIAL", "AUTH", "COOKIE", "_URL", "DSN", "SESSION")
BOOT = (
    "import sys,marshal;sys.path[:]=marshal.loads(bytes.fromhex(sys.argv[1]));"
    "from kaiwa.warm.server import main;main(sys.argv[2],sys.argv[3],int(sys.argv[4]))"
)


def handoff() -> int | None:
    """Run this call in the warm process and return its exit code; None: run it here, cold."""
    debug = "--debug" in sys.argv[1:]
    if os.environ.get("KAIWA_WARM", "").strip() == "0":
        return _cold("KAIWA_WARM=0", debug)
    if not sys.platform.startswith("linux"):  # pidfds, SO_PEERCRED, /proc: elsewhere every call runs cold
        return _cold(f"no warm process on {sys.platform} (it needs Linux)", debug)
    if any(arg.startswith(COLD_OPTIONS) for arg in sys.argv[1:]):
        return _cold("completion set-up looks for the caller's shell among its parent processes", debug)
    try:
        files = Files(runtime_dir())
    except (Unavailable, OSError) as exc:
        return _cold(str(exc), debug)
    code = code_stamp()
    try:
        return _Call(files, code).run()
    except Unavailable as exc:
        if exc.names is not None:  # it serves another import-time environment: this one's own may serve it
            return _elsewhere(files, code, exc, debug)
        if exc.spawn and not _about_warm(sys.argv[1:]):
            spawn(files, code, debug)
        return _cold(str(exc), debug)


def _elsewhere(files: Files, code: list[Any], refused: Unavailable, debug: bool) -> int | None:
    """The call to the warm process of its own import-time environment (PATH, OPENAI_LOG, a locale, …), started
    by this call if there is none and room for one; a few at most, each idling out as the first does."""
    own = Files(files.folder, variant(files.key, refused.names or [], dict(os.environ)))
    try:
        return _Call(own, code).run()
    except Unavailable as exc:
        room = len([f for f in variants(files) if f.key != own.key]) < MAX_VARIANTS
        if exc.spawn and room and not _about_warm(sys.argv[1:]):
            spawn(own, code, debug)
        full = "" if room else f"; {MAX_VARIANTS + 1} warm processes already serve other environments"
        return _cold(f"{refused}; its own warm process: {exc}{full}", debug)


def _about_warm(args: list[str]) -> bool:
    """`warm stop` and `warm status` start no warm process (a stop would leave one running)."""
    return any(a == "warm" and b in ("stop", "status") for a, b in zip(args, args[1:], strict=False))


def _cold(reason: str, debug: bool) -> int | None:
    if debug:
        os.write(2, f"kaiwa: running cold ({reason})\n".encode(errors="replace"))
    return None


def connect(files: Files, timeout: float = ANSWER_TIMEOUT) -> Any:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    address, dirfd = files.address()
    try:
        sock.connect(address)
    except FileNotFoundError:
        sock.close()
        raise Unavailable("no warm process yet", spawn=True) from None
    except ConnectionRefusedError:
        sock.close()
        raise Unavailable("the warm process is gone (a stale socket)", spawn=True) from None
    except OSError as exc:
        sock.close()
        raise Unavailable(f"the warm process does not answer ({exc})") from None
    finally:
        if dirfd is not None:
            os.close(dirfd)
    return sock


def query(files: Files, op: str) -> Any:
    """`status` (a dict) or `stop` of the warm process; None when none answers."""
    try:
        sock = connect(files)
    except Unavailable:
        return None
    try:
        protocol.send(sock, {"op": op})
        return protocol.Reader().read(sock)
    except (OSError, protocol.ProtocolError):
        return None
    finally:
        sock.close()


class _Call:
    def __init__(self, files: Files, code: list[Any]) -> None:
        self.files = files
        self.code = code
        self.sock: Any = None
        self.child_pid = 0
        self.orphan = -1  # a pidfd of the child, once the warm process died under it

    def _request(self) -> tuple[dict[str, Any], list[int]]:
        fds = [0, 1, 2]  # open (run checked them before the socket could take a closed one's number)
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = None
        try:  # the folder itself, so a renamed or deleted working folder stays where the call is
            fds.append(os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        except OSError:
            if cwd is None:
                raise Unavailable("the working folder is gone") from None
        umask = os.umask(0o022)
        os.umask(umask)
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        return {
            "op": "call",
            "argv": list(sys.argv),
            "orig_argv": list(sys.orig_argv),
            "env": dict(os.environ),
            "cwd": cwd,
            "umask": umask,
            "path": list(sys.path),
            "main": (getattr(main, "__file__", None), getattr(main, "__package__", None), getattr(spec, "name", None)),
            "code": self.code,
            "interpreter": interpreter(),
            "flags": flags(),
            "context": context(),
        }, fds

    def run(self) -> int:
        _check_stdio()
        self.sock = connect(self.files)
        request, fds = self._request()
        reader = protocol.Reader()
        try:
            protocol.send(self.sock, request, fds)
            answer = reader.read(self.sock)
        except (OSError, protocol.ProtocolError) as exc:
            self.sock.close()
            raise Unavailable(f"the warm process did not take the call ({exc})") from None
        finally:
            for fd in fds[3:]:
                os.close(fd)
        if not answer or answer[0] != "ok":
            self.sock.close()
            why = answer[1] if answer else "the warm process closed the connection"
            names = answer[3] if answer and len(answer) > 3 else None
            raise Unavailable(why, spawn=bool(answer and answer[2]), names=names)
        # From here on the call is the warm process's: never run it here too.
        self.sock.settimeout(None)
        self._forward_signals()
        try:
            protocol.send(self.sock, ("go",))
            while True:
                message = reader.read(self.sock)
                if message is None:
                    return self._lost()
                if message[0] == "started":
                    self.child_pid = message[1]
                elif message[0] == "exit":
                    return int(message[1])
                elif message[0] == "signal":
                    return _die_by(int(message[1]))
        except (OSError, protocol.ProtocolError):
            return self._lost()

    def _forward_signals(self) -> None:
        def forward(signum: int, _frame: object) -> None:
            if self.orphan >= 0:  # the warm process is gone: signal its orphaned child ourselves
                self._signal_orphan(signum)
                return
            try:  # noqa: SIM105 (contextlib is an import the caller does not pay for)
                protocol.send(self.sock, ("sig", signum))
            except OSError:
                pass

        def stop(_signum: int, _frame: object) -> None:  # Ctrl-Z: stop the child, then ourselves, as a shell would
            forward(_signal.SIGSTOP, None)
            os.kill(os.getpid(), _signal.SIGSTOP)

        for name in FORWARDED:
            _signal.signal(getattr(_signal, name), forward)
        _signal.signal(_signal.SIGTSTP, stop)
        _signal.signal(_signal.SIGCONT, forward)

    def _signal_orphan(self, signum: int) -> None:
        """To the child's process group, as the warm process would; not once the child has ended (its pid and
        group may be another's by then: the pidfd, readable once it ends, tells)."""
        import select

        try:
            if not select.select([self.orphan], [], [], 0)[0]:
                os.killpg(self.child_pid, signum)
        except OSError:
            pass

    def _lost(self) -> int:
        """The warm process died mid-call (it was killed): wait for the orphaned child, then say so."""
        if self.child_pid:
            try:
                import select

                self.orphan = os.pidfd_open(self.child_pid)  # from now on Ctrl-C, SIGTERM, … go to it directly
                select.select([self.orphan], [], [])
            except (OSError, AttributeError):
                pass
            try:  # the child leaves its exit code where we look when it cannot tell the warm process
                with open(exit_file(self.files.folder, self.child_pid), "rb") as f:
                    code = int(f.read())
                os.unlink(f.name)
            except (OSError, ValueError):
                pass
            else:
                if "--debug" in sys.argv[1:]:
                    os.write(2, b"kaiwa: the warm process went away during the call; its child ended by itself\n")
                return code
        os.write(2, b"error: the warm kaiwa process went away during the call; its exit status is unknown\n")
        return 1


def _check_stdio() -> None:
    """stdin, stdout and stderr must be open before the socket is made: with one closed, the socket would take
    its number and be handed over as the child's stdin (it would read the protocol) or output."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            raise Unavailable(f"file descriptor {fd} is closed") from None


def _die_by(signum: int) -> int:
    """End as the child ended: killed by the same signal (a shell treats 130 and a SIGINT death differently)."""
    try:
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    except (OSError, ValueError):
        pass
    return 128 + signum


def _secret(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def spawn(files: Files, code: list[Any], debug: bool = False) -> None:
    """Start a warm process in the background (its own session, stdio on /dev/null, no secrets in its
    environment); a double fork, so it is nobody's zombie. A few milliseconds for this caller."""
    try:
        with open(files.failed, "rb") as f:
            if f.read() == _digest(code):
                _cold("a warm process failed to start with this code (see the log); not trying again", debug)
                return
    except OSError:
        pass
    env = {k: v for k, v in os.environ.items() if not _secret(k)}
    if env.get("LC_CTYPE") in COERCED and sys.flags.utf8_mode and not env.get("LC_ALL") and not env.get("PYTHONUTF8"):
        del env["LC_CTYPE"]  # set by this interpreter's C-locale coercion (PEP 538): the warm one does the same
    argv = [sys.executable, "-c", BOOT, marshal.dumps(sys.path).hex(), files.folder, files.key, str(os.getpid())]
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.closerange(3, 1 << 16)
                os.chdir("/")
                os.execve(sys.executable, argv, env)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _digest(code: list[Any]) -> bytes:
    import zlib

    return f"{zlib.crc32(marshal.dumps(code)):08x}".encode()
