"""What the gateway set-up is doing, on stderr, and the ways out of it: Ctrl-C, SIGTERM, SIGHUP and a closed
output all end it the same way (an exception), so the `finally` blocks in launch.py stop what kaiwa started."""

from __future__ import annotations

import contextlib
import select
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

from rich.console import Console
from rich.text import Text

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


class Progress:
    """What the gateway start is doing, on stderr: one line that updates on a terminal, then one summary line.
    Elsewhere (a log, CI) a bounded number of lines: each step, "still …" at doubling intervals, the summary.
    uv's own lines are only counted here (a failure quotes the last of them)."""

    STILL_FIRST = 15.0  # seconds before the first "still …" line when not on a terminal; each next one doubles

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.live = self.console.is_terminal
        self.started = time.monotonic()
        self.step = ""
        self.detail = ""
        self.last_line = 0.0
        self.still_after = self.STILL_FIRST
        self.installed = 0  # packages uv installed ("+ name==version" lines)
        self.done = ""  # what the summary says was done; empty: nothing was set up, no summary
        self._status: Any = None

    def __enter__(self) -> Progress:
        if self.live:
            self._status = self.console.status("")
            self._status.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._status is not None:
            self._status.stop()
        if exc[0] is None and self.done:
            packages = f"; {self.installed} packages installed" if self.installed else ""
            self._say(f"kaiwa: {self.done} in {_duration(self.elapsed())}{packages}")

    def finished(self, what: str) -> None:
        """The set-up succeeded: the summary line (printed when the display closes) says `what`."""
        self.done = what

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, soft_wrap=True)
        self.last_line = time.monotonic()
        if self.console.quiet:  # rich found the stream closed (`2>&1 | head -3`): nobody is waiting any more
            raise GatewayInterrupted("the output was closed while kaiwa set up the local gateway", 141)

    def set(self, step: str) -> None:
        self.step, self.detail = step, ""
        if self.live:
            self.tick()
        else:
            self._say(f"kaiwa: {step} …")
            self.still_after = self.STILL_FIRST

    def line(self, text: str) -> None:
        """A line of a subprocess's progress (uv's)."""
        self.detail = redact(text.strip())  # uv may echo an index URL with its credentials
        if self.detail.startswith("+ "):
            self.installed += 1
        self.tick()

    def tick(self) -> None:
        if self.live and self._status is not None:
            detail = f" — {self.detail}" if self.detail else ""
            # Text, not a markup string: uv's lines may hold [brackets].
            self._status.update(Text(f"{self.step} ({self.elapsed():.0f}s){detail}"))
        elif not self.live:
            if self._reader_gone():  # quiet between lines, so a closed pipe is not met by a write
                raise GatewayInterrupted("the output was closed while kaiwa set up the local gateway", 141)
            if time.monotonic() - self.last_line > self.still_after:
                self._say(f"kaiwa: still {self.step} ({_duration(self.elapsed())})")
                self.still_after *= 2

    def _reader_gone(self) -> bool:
        """stderr is a pipe whose reader has left (`2>&1 | head -1`): poll reports an error on its write end."""
        try:
            fd = self.console.file.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        poller = select.poll()
        poller.register(fd, 0)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
