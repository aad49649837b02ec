"""`/copy`: text to the system clipboard through the terminal (OSC 52), which works over SSH and in tmux
(`set-clipboard on`, tmux's default for applications) without any clipboard tool on this machine."""

from __future__ import annotations

import base64
import os
from typing import TextIO

# Terminals cap OSC 52 payloads (xterm: 100,000 bytes by default); larger ones are dropped silently.
MAX_BYTES = 74_994  # base64 of this many bytes stays under 100,000 characters


def osc52(text: str) -> str:
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"\x1b]52;c;{data}\x07"


def copy(text: str, stream: TextIO) -> str | None:
    """Ask the terminal behind `stream` to put `text` on the clipboard; a one-line reason when it cannot."""
    if not stream.isatty():
        return "the output is not a terminal"
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        return f"the answer is {size:,} bytes; terminals take at most {MAX_BYTES:,} through OSC 52"
    sequence = osc52(text)
    if os.environ.get("TMUX") is None and os.environ.get("TERM", "").startswith("screen"):
        sequence = f"\x1bP{sequence}\x1b\\"  # GNU screen passes a DCS-wrapped sequence to the outer terminal
    stream.write(sequence)
    stream.flush()
    return None
