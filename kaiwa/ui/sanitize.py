"""Text from the model or a tool never drives the terminal.

Every control character but newline and tab is replaced by a visible stand-in before anything is written:
C0 controls (ESC, BEL, BS, lone CR, …) by their Unicode control pictures (␛ ␇ ␈ ␍ …), DEL by ␡, and C1 controls
(U+0080–U+009F: CSI, OSC, … which some terminals obey in UTF-8) by U+FFFD. So `ESC ] 0 ; title BEL` is shown as
`␛]0;title␇` instead of retitling the window, and `ESC [ 2 J` cannot clear the screen.

A carriage return followed by a newline is a line ending, not a trick: on a terminal it becomes "\\n"; in plain
(piped) output the pair is kept as it came, so ordinary text — Windows line endings included — passes byte for byte.
The same neutralisation applies to plain output, because a pipe so often ends in a terminal (`| less -R`, `| tee`).
"""

from __future__ import annotations

_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A, 0x0D)}
_PICTURES[0x7F] = "\u2421"  # ␡
_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0)})
_LONE_CR = "\u240d"  # ␍


def _neutralise(text: str, keep_crlf: bool) -> str:
    """`text` with no control character left but \\n, \\t (and the CR of a CRLF pair when `keep_crlf`)."""
    text = text.translate(_PICTURES)
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\0")  # NUL cannot survive the translate above: a safe placeholder
    return text.replace("\r", _LONE_CR).replace("\0", "\r\n" if keep_crlf else "\n")


def clean(text: str, *, keep_crlf: bool = False) -> str:
    """One whole piece of text (a tool line, a notice) made harmless."""
    return _neutralise(text, keep_crlf)


class Sanitizer:
    """The same for a stream of deltas: a CR at the end of a delta waits for the next one, since a "\\n" there
    makes it a line ending."""

    def __init__(self, *, keep_crlf: bool = False) -> None:
        self.keep_crlf = keep_crlf
        self._held_cr = False

    def feed(self, delta: str) -> str:
        if self._held_cr:
            delta = "\r" + delta
            self._held_cr = False
        if delta.endswith("\r"):
            delta = delta[:-1]
            self._held_cr = True
        return _neutralise(delta, self.keep_crlf) if delta else ""

    def flush(self) -> str:
        """What is still held back (a final lone CR), shown harmlessly."""
        if self._held_cr:
            self._held_cr = False
            return _LONE_CR
        return ""
