"""The local gateway's set-up as a face draws it (the core's `GatewayProgress` events), on stderr: a live status
on a terminal, plain lines otherwise (and a "still …" line every 15 s, so a log shows it is alive)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.text import Text

from ..core.events import Event, GatewayProgress
from ..gateway.progress import GatewayInterrupted


class GatewayView:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.last_line = 0.0
        self._status: Any = None

    def __call__(self, event: Event) -> None:
        """Draws `GatewayProgress`; any other event is not its business."""
        if not isinstance(event, GatewayProgress):
            return
        match event.state:
            case "begin":
                if self.live:
                    self._status = self.console.status("")
                    self._status.start()
            case "end":
                if self._status is not None:
                    self._status.stop()
                    self._status = None
            case "step" if not self.live:
                self._say(f"kaiwa: {event.step} …")
            case "detail" if not self.live:
                if event.detail:
                    self._say(f"  {event.detail}")
            case "tick" if not self.live:
                if time.monotonic() - self.last_line > 15:
                    self._say(f"kaiwa: still {event.step} ({event.elapsed:.0f}s)")
            case _ if self._status is not None:
                detail = f" — {event.detail}" if event.detail else ""
                # Text, not a markup string: uv's lines may hold [brackets].
                self._status.update(Text(f"{event.step} ({event.elapsed:.0f}s){detail}"))

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, soft_wrap=True, highlight=False)
        self.last_line = time.monotonic()
        if self.console.quiet:  # rich found the stream closed (`2>&1 | head -3`): nobody is waiting any more
            raise GatewayInterrupted("the output was closed while kaiwa set up the local gateway", 141)
