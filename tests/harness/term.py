"""`uv run chat.py` in a real pseudo-terminal (pexpect), for the interactive-mode tests.

The screen is full of prompt_toolkit's cursor moves and redraws, so `wait_for` looks for text in what the
terminal received with escape sequences stripped, from a mark on (`mark()` moves it past what was seen).
"""

from __future__ import annotations

import contextlib
import re
import signal
import time
from typing import Any

import pexpect

from tests.conftest import Kaiwa

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>()][0-9A-Za-z]?|\x1b[78DEHM]")
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
READY = "/help for commands"
CPR = "\x1b[6n"


CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain(raw: str) -> str:
    return CONTROLS.sub("", ANSI.sub("", raw).replace("\r", ""))


class Term:
    def __init__(self, kaiwa: Kaiwa, *args: str, **env: str) -> None:
        command = kaiwa.command(*args)
        self.child = pexpect.spawn(
            command[0],
            command[1:],
            cwd=str(kaiwa.home),
            env={**kaiwa.env, "TERM": "xterm-256color", **env},
            dimensions=(40, 160),
            encoding="utf-8",
            codec_errors="replace",
            timeout=5,
        )
        self.raw = ""
        self._mark = 0

    # -- reading ---------------------------------------------------------------------------------
    def _pump(self, timeout: float) -> bool:
        try:
            chunk = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += chunk
        # Answer cursor-position requests as a terminal does (prompt_toolkit shows the toolbar only then).
        for _ in range(chunk.count(CPR)):
            with contextlib.suppress(OSError):
                self.child.send("\x1b[1;1R")
        return True

    @property
    def text(self) -> str:
        return plain(self.raw)

    def since_mark(self) -> str:
        return plain(self.raw[self._mark :])

    def mark(self) -> None:
        self._mark = len(self.raw)

    def wait_for(self, needle: str | re.Pattern[str], timeout: float = 60) -> str:
        """Wait until `needle` shows up after the mark; returns the text after the mark."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.since_mark()
            if (needle in seen) if isinstance(needle, str) else needle.search(seen):
                return seen
            if time.monotonic() > deadline or not self._pump(0.1) and not self.child.isalive():
                seen = self.since_mark()
                if (needle in seen) if isinstance(needle, str) else needle.search(seen):
                    return seen
                raise AssertionError(f"{needle!r} not seen within {timeout} s; screen since mark:\n{seen[-3000:]}")

    def after(self, needle: str, timeout: float = 60) -> str:
        """Wait for `needle` and then the input line drawn again (keys sent earlier would reach a cooked
        terminal: echoed twice, ^C and ^D lost)."""
        return self.wait_for(re.compile(re.escape(needle) + r"(.|\n)*›"), timeout)

    def ready(self, timeout: float = 90) -> None:
        """The greeting, then the input line drawn (keys typed earlier would reach a cooked terminal)."""
        self.wait_for(re.compile(re.escape(READY) + r"(.|\n)*›"), timeout)

    # -- typing ----------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        self.child.send(text)

    def enter(self, line: str = "") -> None:
        """Type `line` and press Enter (the mark moves first, so waits look at what follows)."""
        self.mark()
        self.child.send(line)
        time.sleep(0.05)
        self.child.send("\r")

    def turn(self, line: str, usage: str = " in · ", timeout: float = 60) -> str:
        """Send a message and wait for its usage line; returns what the screen showed for the turn."""
        self.enter(line)
        # then the input line drawn again: keys sent before it would reach a cooked terminal (^D lost)
        return self.wait_for(re.compile(re.escape(usage) + r"(.|\n)*›"), timeout)

    def ctrl(self, key: str) -> None:
        self.child.sendcontrol(key)

    # -- leaving ---------------------------------------------------------------------------------
    def exit_status(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self._pump(0.1)
        while self._pump(0.05) and not self.child.eof() and time.monotonic() < deadline:
            pass
        self.child.close()
        status: Any = self.child.exitstatus
        if status is None and self.child.signalstatus is not None:
            return 128 + int(self.child.signalstatus)
        return int(status)

    def kill(self, signum: int = signal.SIGTERM) -> None:
        self.child.kill(signum)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


def session_id_in(text: str) -> str | None:
    found = re.search(r"SESSION_ID=([0-9a-f-]{36})", text)
    return found.group(1) if found else None
