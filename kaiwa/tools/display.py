"""Tool calls and results as one short line each (for the terminal and transcripts), and the pieces a call is
shown with: its argument names and values, spelt out so that what you read is what the tool gets."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

# Characters that draw nothing, or only blank space, that a line you approve from must never hide: Unicode's
# Default_Ignorable_Code_Point ranges (zero-width and bidi format characters, variation selectors, Hangul
# fillers, tags) and the braille blank U+2800, which is a "symbol" to Unicode but renders as an empty cell.
_BLANK_LOOKING = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x2800, 0x2800),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
# Unicode categories never shown as themselves: controls, format characters, surrogates, private use,
# unassigned, line/paragraph separators and every space but the plain one.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


def _hidden(char: str, before: str) -> bool:
    code = ord(char)
    if char == " " or 0x20 < code < 0x7F:
        return False
    category = unicodedata.category(char)
    if category in _HIDDEN_CATEGORIES or category == "Me":
        return True
    if category == "Mn" and unicodedata.category(before or " ")[0] not in "LNM":
        return True  # a combining mark on a quote, a bracket or a space: drawn over what it follows
    return any(low <= code <= high for low, high in _BLANK_LOOKING)


def spelt_out(text: str) -> str:
    """`text` with every invisible or blank-looking character written as its code (`\\u2800`), so a line reads as
    it is: a bidi override cannot reverse the rest of it, nor a run of braille blanks fake its end."""
    out: list[str] = []
    before = ""
    for char in text:
        if char in "\n\t":
            out.append(char)
        elif _hidden(char, before):
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            out.append(char)
        before = char
    return "".join(out)


def argument_name(key: str) -> str:
    """An argument's name as shown: bare when it is a plain identifier, else quoted and spelt out like a value
    (a name is any JSON string: `files=['a.txt'])? [y/a/n]` is a name too)."""
    return key if _NAME.match(key) else spelt_out(repr(key))


def argument_value(value: Any) -> str:
    """An argument's value as shown: a string as Python quotes it, anything else as JSON; spelt out."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return spelt_out(text)


def cut(text: str, limit: int) -> str:
    """`text` in at most about `limit` characters, saying how much was left out: `'abc…(+312 chars)`."""
    if len(text) <= limit:
        return text
    for keep in range(max(limit - 12, 1), 0, -1):
        marker = f"…(+{len(text) - keep} chars)"
        if keep + len(marker) <= limit:
            return text[:keep] + marker
    return text[:1] + f"…(+{len(text) - 1} chars)"


def in_order(arguments: dict[str, Any], order: Iterable[str]) -> list[tuple[str, Any]]:
    """The arguments in `order` (the tool's: required ones first, as its schema lists them), then any others."""
    first = [key for key in order if key in arguments]
    return [(key, arguments[key]) for key in first] + [(k, v) for k, v in arguments.items() if k not in first]


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def describe_call(name: str, arguments: str, limit: int = 100) -> str:
    """A tool call as one short line, e.g. `calculate(expression='2 ** 10')`."""
    try:
        parsed: Any = json.loads(arguments) if arguments.strip() else {}
    except (json.JSONDecodeError, AttributeError):
        return _one_line(spelt_out(f"{name}({arguments})"), limit)
    if isinstance(parsed, dict):
        shown = ", ".join(
            f"{argument_name(key)}={_one_line(argument_value(value), 40)}"
            for key, value in parsed.items()
            if value is not None
        )
    else:
        shown = _one_line(argument_value(parsed), 60)
    return _one_line(f"{spelt_out(name)}({shown})", limit)


def _output_text(output: object) -> str:
    """The text inside a tool output: a string, an MCP content item ({"type": "text", ...}), a list of them."""
    if isinstance(output, str):
        stripped = output.strip()
        if stripped[:1] in "{[":
            try:
                return _output_text(json.loads(stripped))
            except json.JSONDecodeError:
                pass
        return output
    if hasattr(output, "model_dump"):
        output = output.model_dump()
    if isinstance(output, dict):
        if output.get("type") == "text" and isinstance(output.get("text"), str):
            return output["text"]
        if output.get("type") == "image":
            return "[image]"
        return json.dumps(output, ensure_ascii=False, default=str)
    if isinstance(output, list | tuple):
        return " ".join(_output_text(item) for item in output)
    return str(output)


def describe_result(output: object, limit: int = 80) -> str:
    """A tool result as one short line (whitespace collapsed, invisible characters spelt out, cut at `limit`
    characters with "…")."""
    return _one_line(spelt_out(_output_text(output)), limit)
