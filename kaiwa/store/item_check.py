"""What an imported session must hold before anything is written: Responses items, turn records that match them.

Stdlib only (no openai import for `sessions import`): the item types are the Responses API's input item types
(`openai.types.responses.ResponseInputItemParam`), and the fields checked are the ones a replay needs: a message's
role and content, a call's id, name and arguments, an output's call id.
"""

from __future__ import annotations

import math
from typing import Any

from ..words import counted

ITEM_TYPES = frozenset(
    {
        "message", "file_search_call", "computer_call", "computer_call_output", "web_search_call", "function_call",
        "function_call_output", "tool_search_call", "tool_search_output", "additional_tools", "configuration_update",
        "reasoning", "compaction", "image_generation_call", "code_interpreter_call", "local_shell_call",
        "local_shell_call_output", "shell_call", "shell_call_output", "apply_patch_call", "apply_patch_call_output",
        "mcp_list_tools", "mcp_approval_request", "mcp_approval_response", "mcp_call", "custom_tool_call_output",
        "custom_tool_call", "compaction_trigger", "item_reference", "program", "program_output",
    }
)  # fmt: skip
MAX_COUNT = 10**12  # tokens or milliseconds in one turn: a trillion is no real turn, and sums stay in 64 bits
MAX_COST = 1e9  # dollars for one turn
MAX_DEPTH = 200  # levels of nesting in an export (SQLite's JSON functions stop at 1000; real items use ~10)
ROLES = frozenset({"user", "assistant", "system", "developer"})
_CALLS = {"function_call": "function_call_output", "custom_tool_call": "custom_tool_call_output"}


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def item_problem(index: int, item: Any, open_calls: set[str]) -> str | None:
    """What is wrong with item `index` (None: nothing). `open_calls` collects call ids awaiting their output."""
    where = f"item {index + 1}"
    if not isinstance(item, dict):
        return f"{where} is not a JSON object"
    kind = item.get("type", "message")
    if kind not in ITEM_TYPES:
        return f"{where} has type {str(kind)[:40]!r}, not a Responses item type"
    if kind == "message":
        content = item.get("content")
        if item.get("role") not in ROLES:
            return f"{where} is a message without a role (user, assistant, system or developer)"
        if not (_is_str(content) or (isinstance(content, list) and all(isinstance(p, dict) for p in content))):
            return f"{where} is a message whose content is neither text nor a list of parts"
    elif kind in _CALLS or kind in _CALLS.values():
        call_id = item.get("call_id")
        if not _is_str(call_id) or not call_id:
            return f"{where} ({kind}) has no call_id"
        if kind == "function_call" and not (_is_str(item.get("name")) and _is_str(item.get("arguments"))):
            return f"{where} (function_call) needs a name and its arguments as a JSON string"
        if kind in _CALLS:
            open_calls.add(call_id)
        elif call_id not in open_calls:
            return f"{where} ({kind}) answers call {call_id[:40]!r}, which no earlier item makes"
    elif kind == "reasoning" and not isinstance(item.get("summary", []), list):
        return f"{where} (reasoning) has a summary that is not a list"
    return None


def turn_count(items: list[Any]) -> int:
    """The turns `items` hold: one per user message (anything before the first is a turn of its own), less a
    last user message with no answer after it (a round-2 store's dangling message: it has no turn record)."""
    starts = [
        i for i, item in enumerate(items) if item.get("role") == "user" and item.get("type", "message") == "message"
    ]
    if items and starts[:1] != [0]:
        starts.insert(0, 0)
    if starts and starts[-1] == len(items) - 1 and items[-1].get("role") == "user":
        starts.pop()
    return len(starts)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def deeper_than(data: Any, limit: int) -> bool:
    """Whether `data` (parsed JSON) nests more than `limit` levels; without recursion."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


def turn_problem(index: int, turn: Any) -> str | None:
    where = f"turn record {index + 1}"
    if not isinstance(turn, dict) or not _is_str(turn.get("model")):
        return f"{where} has no model"
    for name in ("input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens", "cache_write_tokens",
                 "duration_ms"):  # fmt: skip
        if name in turn and not _count(turn[name]):
            return f"{where} has {name} {str(turn[name])[:20]!r}, not a whole number from 0 to {MAX_COUNT:.0e}"
    if "attempts" in turn and not (_count(turn["attempts"]) and turn["attempts"] >= 1):
        return f"{where} has attempts {str(turn['attempts'])[:20]!r}, not a whole number of 1 or more"
    if turn.get("outcome", "") not in ("", "length", "failed"):
        return f"{where} has outcome {str(turn['outcome'])[:20]!r}, not one of '', 'length', 'failed'"
    cost = turn.get("cost")
    if cost is not None and not (
        isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost) and 0 <= cost <= MAX_COST
    ):
        return f"{where} has cost {str(cost)[:20]!r}, not a number of dollars up to {MAX_COST:.0e} (or null)"
    if not isinstance(turn.get("spender", ""), str) or len(turn.get("spender", "")) > 64:
        return f"{where} has a spender that is not a short text"
    ids = turn.get("request_ids") or []
    if not isinstance(ids, list) or not all(_is_str(r) for r in ids):
        return f"{where} has request_ids that are not a list of strings"
    return None


def dump_problem(items: list[Any], turns: list[Any]) -> str | None:
    """The first thing wrong with an export's items and turns, or None."""
    open_calls: set[str] = set()
    for index, item in enumerate(items):
        if (problem := item_problem(index, item, open_calls)) is not None:
            return problem
    for index, turn in enumerate(turns):
        if (problem := turn_problem(index, turn)) is not None:
            return problem
    expected = turn_count(items)
    if len(turns) != expected:
        return f"it has {counted(len(turns), 'turn record')} for {counted(expected, 'turn')} of items"
    return None
