"""kaiwa's tools: the built-in clock and calculator, MCP servers, and how tool calls are shown.

Only the standard library is imported here: `agents` is imported inside `builtin_tools()`, so `kaiwa --help`
does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .calculator import CalcError, calculate, evaluate, format_number
from .clock import current_time, describe_time, local_zone, resolve_zone
from .display import describe_call, describe_result

if TYPE_CHECKING:
    from agents import Tool

__all__ = [
    "CalcError",
    "builtin_tools",
    "calculate",
    "current_time",
    "describe_call",
    "describe_result",
    "describe_time",
    "evaluate",
    "format_number",
    "local_zone",
    "resolve_zone",
]


def builtin_tools() -> list[Tool]:
    """kaiwa's built-in tools: the clock and the calculator. Neither touches files, the network or processes."""
    from agents import function_tool

    return [
        function_tool(current_time, name_override="current_time"),
        function_tool(calculate, name_override="calculate"),
    ]
