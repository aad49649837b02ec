"""How kaiwa's messages read: counts (`1 turn`, `2 turns`) and the program's own name. Bottom layer.

The program names itself as the user called it: `chat.py …` from a checkout (`uv run chat.py`), `kaiwa …` when
installed (its console script). Every hint, usage line and error says `program()` or `invocation()` — read at the
moment the words are made, never at import (the warm process imports once and serves both).
"""

from __future__ import annotations

import os
import sys


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, plural unless the count is exactly one (`0 turns`, `1 turn`, `1,204 turns`)."""
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"


SMALLEST = 0.000001  # below one millionth of a dollar a cost is shown as "<$0.000001", never as "$0"


def money(cost: float | None) -> str:
    """$0.000015, $0.0123, $1.5; "" when the proxy gave no price."""
    if cost is None:
        return ""
    if cost == 0:
        return "$0"
    if 0 < cost < SMALLEST:
        return f"<${SMALLEST:.6f}"
    return f"${cost:.6f}".rstrip("0").rstrip(".")


def program() -> str:
    """`kaiwa` when this call came through the installed console script, else `chat.py` (a checkout)."""
    called = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "kaiwa" if called == "kaiwa" else "chat.py"


def invocation() -> str:
    """The whole command to type: `kaiwa`, or `uv run chat.py` from a checkout."""
    return "kaiwa" if program() == "kaiwa" else "uv run chat.py"


def as_called(text: str) -> str:
    """Words written with kaiwa's checkout name (`uv run chat.py …`, `chat.py …`) in this call's name: for texts
    made once at import (the command line's help), which the installed `kaiwa` shows as `kaiwa …`."""
    if program() == "chat.py" or "chat.py" not in text:
        return text
    return text.replace("uv run chat.py", "kaiwa").replace("chat.py", "kaiwa")
