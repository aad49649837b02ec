"""Tool calls and results as one short line each (for the terminal and transcripts)."""

from __future__ import annotations

import json
from typing import Any


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def describe_call(name: str, arguments: str, limit: int = 100) -> str:
    """A tool call as one short line, e.g. `calculate(expression='2 ** 10')`."""
    try:
        parsed: Any = json.loads(arguments) if arguments.strip() else {}
    except (json.JSONDecodeError, AttributeError):
        return _one_line(f"{name}({arguments})", limit)
    if isinstance(parsed, dict):
        shown = ", ".join(
            f"{key}={_one_line(repr(value), 40) if isinstance(value, str) else _one_line(json.dumps(value), 40)}"
            for key, value in parsed.items()
            if value is not None
        )
    else:
        shown = _one_line(json.dumps(parsed), 60)
    return _one_line(f"{name}({shown})", limit)


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
    """A tool result as one short line (whitespace collapsed, cut at `limit` characters with "…")."""
    return _one_line(_output_text(output), limit)
