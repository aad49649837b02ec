"""kaiwa's tools: the built-in clock and calculator, MCP servers, and how tool calls are shown.

Only the standard library is imported here: `agents` is imported inside `builtin_tools()`, so `kaiwa --help`
does not pay for it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from .arguments import argument_problem, signature
from .calculator import CalcError, calculate, evaluate, format_number
from .clock import current_time, describe_time, local_zone, resolve_zone
from .display import describe_call, describe_result

if TYPE_CHECKING:
    from agents import Tool

__all__ = [
    "CalcError",
    "argument_problem",
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
    "signature",
]


def builtin_tools() -> list[Tool]:
    """kaiwa's built-in tools: the clock and the calculator. Neither touches files, the network or processes.

    Made once a process (their schemas: ~10 ms; the warm process makes them before it forks); a new list each
    call, of the same tools.
    """
    return list(_made())


@cache
def _made() -> tuple[Tool, ...]:
    """The tools themselves.

    Each checks a call's arguments against its own strict schema first (an SDK tool input guardrail): an unknown,
    missing or mistyped argument comes back to the model as an error it can correct, and the tool does not run.
    """
    from agents import FunctionTool, ToolGuardrailFunctionOutput, ToolInputGuardrail, function_tool
    from agents.tool_guardrails import ToolInputGuardrailData

    def checked(tool: FunctionTool) -> FunctionTool:
        def check_arguments(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
            problem = argument_problem(tool.name, tool.params_json_schema, data.context.tool_arguments)
            return (
                ToolGuardrailFunctionOutput.allow()
                if problem is None
                else ToolGuardrailFunctionOutput.reject_content(problem)
            )

        tool.tool_input_guardrails = [ToolInputGuardrail(check_arguments, name="strict_arguments")]
        return tool

    def failure(_ctx: object, error: Exception) -> str:
        # The SDK's default ("An error occurred…") gives the model nothing to correct.
        return f"error: {error}"

    return (
        checked(function_tool(current_time, name_override="current_time", failure_error_function=failure)),
        checked(function_tool(calculate, name_override="calculate", failure_error_function=failure)),
    )
