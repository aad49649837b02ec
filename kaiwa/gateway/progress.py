"""What the gateway set-up is doing (reported to a face, which draws it), and the ways out of it: Ctrl-C, SIGTERM,
SIGHUP and a closed output all end it the same way (an exception), so the `finally` blocks in launch.py stop what
kaiwa started."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType

from ..errors import KaiwaError
from ..redact import redact

RESTART_HINT = "nothing kaiwa started for it is left running; run kaiwa again to set it up"
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class GatewayInterrupted(KaiwaError):
    """The set-up was stopped from outside; everything it started has been stopped too."""

    def __init__(self, what: str, exit_code: int) -> None:
        super().__init__(what, RESTART_HINT, exit_code)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While kaiwa sets up the gateway, SIGTERM and SIGHUP raise (as Ctrl-C raises KeyboardInterrupt) instead of
    ending the process at once, which would orphan the `uv sync` or the half-started gateway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise GatewayInterrupted(
            f"stopped by {signal.Signals(signum).name} while setting up the local gateway", 128 + signum
        )

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP wait until the block is done, then act as they would have: around starting a
    process (until kaiwa holds its handle, only kaiwa's exit could stop it) and around stopping one (a second
    Ctrl-C must not cut the stop short). A handler, not a signal mask: a mask holds only this thread's signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: held.append(signum)) for sig in STOPPING}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: not set from Python
        if held:
            signal.raise_signal(held[0])  # its own handler runs now: KeyboardInterrupt, GatewayInterrupted, …


Report = Callable[[str, str, str, float], None]  # (state, step, detail, seconds since the start)


class Progress:
    """What the gateway start is doing, reported as it happens: `state` "begin", "step" (a new step), "detail" (a
    line of a subprocess's progress, uv's), "tick" (time passes), "ready" (it succeeded) or "end". Drawing it is a
    face's business (`ui/progress.py`, through the core's `GatewayProgress` event); a face that finds its output
    closed raises `GatewayInterrupted`, which ends the set-up like Ctrl-C."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.started = time.monotonic()
        self.step = ""
        self.detail = ""

    def __enter__(self) -> Progress:
        self._say("begin")
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._say("end")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _say(self, state: str) -> None:
        self.report(state, self.step, self.detail, self.elapsed())

    def set(self, step: str) -> None:
        self.step, self.detail = step, ""
        self._say("step")

    def line(self, text: str) -> None:
        """A line of a subprocess's progress (uv's)."""
        self.detail = redact(text.strip())  # uv may echo an index URL with its credentials
        self._say("detail")

    def tick(self) -> None:
        self._say("tick")

    def finished(self, what: str) -> None:
        """The set-up succeeded: "ready", with `what` as the step (a face sums it up in one line at "end")."""
        self.step, self.detail = what, ""
        self._say("ready")
