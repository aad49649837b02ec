"""Tool approvals within a turn (issue 19), through the Agents SDK's own flow.

A call the policy (`tools/approval.py`) does not let run makes the SDK end the streamed run with `interruptions`,
once everything before them has streamed and the calls that may run have run. Each is then settled on the run's
state (`result.to_state()`): approved or declined by the policy without a question, or asked through the face's
`Approver`. The engine resumes the run from that state (`Runner.run_streamed(agent, state)`), which streams on,
until a run ends without interruptions.

A call that needs asking is first checked against the tool's input schema (`tools/arguments.py`): names the
tool does not declare, a missing or mistyped argument are refused back to the model as the call's output, as the
built-in tools refuse them, and no one is asked — a question shows exactly what the server would act on.

Turns stay atomic: all the while, the turn's items (the user's message, the calls that wait) are only in the
turn's buffer in memory, as for any turn, and the session's lock is held; a question never answered (Ctrl-C, a
killed process) stores nothing. A declined call gets the SDK's rejection ("Tool execution was not approved.") as
its output: every stored call has its output, so the history replays in each cloud's format, and the model is told
and goes on. The usage of a resumed run counts the whole turn (the state carries the run's context).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..tools.approval import ApprovalPolicy
from .events import NO_TERMINAL, Answer, ApprovalDecided, ApprovalRequested, Approver, Emit


def _field(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


# What the user is told of a call refused for its arguments (the model gets the reason, naming them).
BAD_ARGUMENTS = "its arguments do not fit the tool (the model is told why)"


def _listed(servers: Sequence[Any], server: str, tool: str) -> Any:
    """The MCP tool as its server listed it, or None."""
    for candidate in servers:
        if candidate.name == server:
            for listed in getattr(candidate, "cached_tools", None) or []:
                if listed.name == tool:
                    return listed
    return None


def request_for(item: Any, servers: Sequence[Any]) -> tuple[ApprovalRequested, str | None]:
    """What a face shows of the SDK's `ToolApprovalItem`, and what is wrong with its arguments (None: nothing,
    or no schema to check them against)."""
    from ..tools.arguments import argument_problem, declared_order
    from ..tools.mcp import input_schema, read_only_hint

    raw = item.raw_item
    server = _field(getattr(item, "tool_origin", None), "mcp_server_name") or ""
    tool = str(item.tool_name or _field(raw, "name") or "tool")
    arguments = str(_field(raw, "arguments") or "")
    call_id = str(_field(raw, "call_id") or "")
    listed = _listed(servers, server, tool)
    schema = input_schema(listed) if listed is not None else None
    read_only = read_only_hint(listed) if listed is not None else None
    order = declared_order(schema) if schema else ()
    problem = argument_problem(tool, schema, arguments) if schema is not None else None
    return ApprovalRequested(call_id, server, tool, arguments, read_only, order), problem


async def settle(
    result: Any, policy: ApprovalPolicy, servers: Sequence[Any], approver: Approver | None, emit: Emit
) -> Any:
    """The run's state with every interruption of `result` approved or rejected: ready to resume from.
    `approver` None: no one can be asked, so a call that needs asking is declined."""
    state = result.to_state()
    for item in result.interruptions:
        request, problem = request_for(item, servers)
        # Judged again now, not only when the run stopped: an `a` for an earlier call of this batch counts.
        verdict = policy.verdict(request.server, request.tool, request.read_only)
        if verdict.action == "ask" and problem is not None:
            state.reject(item, rejection_message=problem)
            emit(ApprovalDecided(request.call_id, request.server, request.tool, "decline", BAD_ARGUMENTS))
            continue
        if verdict.action == "ask":
            emit(request)
            answer: Answer = "decline" if approver is None else await approver(request)
            if answer == "allow_tool":
                policy.grant(request.server, request.tool)
            by = NO_TERMINAL if approver is None else "you"
        else:
            answer, by = ("allow" if verdict.action == "run" else "decline"), verdict.why
        if answer == "decline":
            state.reject(item)  # the SDK's own rejection message becomes the call's output
        else:
            state.approve(item)
        emit(ApprovalDecided(request.call_id, request.server, request.tool, answer, by))
    return state
