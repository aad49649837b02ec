"""The local gateway's set-up as a face draws it (the core's `GatewayProgress` events), on stderr: one line that
updates on a terminal, then one summary line. Elsewhere (a log, CI) a bounded number of lines: each step, "still …"
at doubling intervals (15 s, 30 s, 60 s, …), the summary. uv's own lines are counted, never echoed (a failure
quotes the last of them)."""

from __future__ import annotations

import select
import time
from typing import Any

from rich.console import Console
from rich.text import Text

from ..core.events import Event, GatewayProgress
from ..gateway.progress import GatewayInterrupted

STILL_FIRST = 15.0  # seconds before the first "still …" line off a terminal; each next one waits twice as long


class GatewayView:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.last_line = 0.0
        self.still_after = STILL_FIRST
        self.installed = 0  # packages uv installed ("+ name==version" lines)
        self.ready = ""  # what the summary says; empty: nothing was set up, no summary
        self.elapsed = 0.0
        self._status: Any = None

    def __call__(self, event: Event) -> None:
        """Draws `GatewayProgress`; any other event is not its business."""
        if not isinstance(event, GatewayProgress):
            return
        self.elapsed = event.elapsed
        if event.state == "detail" and event.detail.startswith("+ "):
            self.installed += 1
        if not self.live and event.state in ("detail", "tick") and self._reader_gone():
            # Quiet between lines, so a closed pipe is not met by a write: ask the pipe itself.
            raise GatewayInterrupted("the output was closed while kaiwa set up the local gateway", 141)
        match event.state:
            case "begin":
                if self.live:
                    self._status = self.console.status("")
                    self._status.start()
            case "ready":
                self.ready = event.step
            case "end":
                if self._status is not None:
                    self._status.stop()
                    self._status = None
                if self.ready:
                    packages = f"; {self.installed} packages installed" if self.installed else ""
                    self._say(f"kaiwa: {self.ready} in {_duration(self.elapsed)}{packages}")
            case "step" if not self.live:
                self._say(f"kaiwa: {event.step} …")
                self.still_after = STILL_FIRST
            case "detail" | "tick" if not self.live:
                if time.monotonic() - self.last_line > self.still_after:
                    self._say(f"kaiwa: still {event.step} ({_duration(event.elapsed)})")
                    self.still_after *= 2
            case _ if self._status is not None:
                detail = f" — {event.detail}" if event.detail else ""
                # Text, not a markup string: uv's lines may hold [brackets].
                self._status.update(Text(f"{event.step} ({_duration(event.elapsed)}){detail}"))

    def _reader_gone(self) -> bool:
        """stderr is a pipe whose reader has left (`2>&1 | head -1`): poll reports an error on its write end."""
        try:
            fd = self.console.file.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        poller = select.poll()
        poller.register(fd, 0)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, soft_wrap=True, highlight=False)
        self.last_line = time.monotonic()
        if self.console.quiet:  # rich found the stream closed: nobody is waiting any more
            raise GatewayInterrupted("the output was closed while kaiwa set up the local gateway", 141)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
