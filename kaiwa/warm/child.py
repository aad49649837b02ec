"""One call in a freshly forked child of the warm process: become the caller's process (its stdin, stdout,
stderr, working folder, umask, environment, argv, sys.path and __main__), run the CLI, exit as Python would.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import importlib.machinery
import io
import os
import sys
import threading
import time
import types
from typing import Any, NoReturn

from .paths import exit_file
from .preload import renew_consoles


def run_call(request: dict[str, Any], fds: list[int], ctl: Any = None, folder: str = "") -> NoReturn:
    _take_fds(fds, request.get("cwd"))
    os.umask(int(request["umask"]))
    _take_environment(request["env"])
    sys.argv[:] = request["argv"]
    sys.orig_argv[:] = request["orig_argv"]
    sys.path[:] = request["path"]
    _take_main(*request["main"])
    _take_stdio()
    renew_consoles()
    del request
    from kaiwa.cli import run

    code = 0
    try:
        run()
    except SystemExit as exc:
        code = _exit_code(exc)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        _finish()
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)  # as the interpreter does: die by SIGINT
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    code = _finish(code)
    _say_exit(ctl, code, folder)
    os._exit(code)


def _say_exit(ctl: Any, code: int, folder: str) -> None:
    """Tell the warm process the exit code now: the caller returns while this process still tears down. With the
    warm process gone (killed under the call), leave it in the runtime folder, where the caller looks."""
    if ctl is None:
        return
    from . import protocol

    try:
        protocol.send(ctl, ("exit", code))
    except OSError:
        if folder:
            with contextlib.suppress(OSError):
                fd = os.open(exit_file(folder, os.getpid()), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, str(code).encode())
                os.close(fd)


def _take_fds(fds: list[int], cwd: str | None) -> None:
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)  # inheritable: an $EDITOR or MCP server gets them too
    if len(fds) > 3:
        os.fchdir(fds[3])  # the caller's folder itself, even renamed or deleted since
    elif cwd:
        os.chdir(cwd)
    for fd in fds:
        if fd > 2:
            os.close(fd)


def _take_environment(env: dict[str, str]) -> None:
    os.environ.clear()  # unsetenv for each: what subprocesses inherit follows os.environ
    os.environ.update(env)
    time.tzset()  # the time zone of this call's TZ
    tempfile: Any = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None  # found again from this call's TMPDIR


def _take_main(file: str | None, package: str | None, spec_name: str | None) -> None:
    """A __main__ like the caller's (click names the program after it: `chat.py`, `kaiwa`, `python -m kaiwa`)."""
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    main.__package__ = package
    main.__spec__ = importlib.machinery.ModuleSpec(spec_name, None) if spec_name else None  # type: ignore[assignment]
    if file is not None:
        main.__file__ = file
    sys.modules["__main__"] = main


def _take_stdio() -> None:
    """sys.stdin/stdout/stderr as the interpreter makes them at start, on the call's fds."""
    old = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
    unbuffered = bool(getattr(old[1], "write_through", False))  # -u or PYTHONUNBUFFERED, as this interpreter has
    made = []
    for fd, mode, template in zip((0, 1, 2), ("r", "w", "w"), old, strict=True):
        write = mode == "w"
        buffering = 0 if unbuffered and write else -1
        binary: Any = open(fd, mode + "b", buffering=buffering, closefd=False)  # noqa: SIM115 (lives on as sys.std*)
        made.append(
            io.TextIOWrapper(
                binary,
                encoding=getattr(template, "encoding", None) or "utf-8",
                errors=getattr(template, "errors", None) or ("backslashreplace" if fd == 2 else "strict"),
                newline="\n",
                line_buffering=not unbuffered and (os.isatty(fd) or fd == 2),
                write_through=unbuffered,
            )
        )
    sys.stdin, sys.stdout, sys.stderr = made
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = made  # type: ignore[misc]


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _finish(code: int = 0) -> int:
    """What the interpreter does at exit that matters here: join threads, atexit, flush. Not the teardown of
    every module: that would touch (and copy) all the pages this child shares with the warm process."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # the interpreter's code when flushing stdout fails at exit
    return code
