"""The one reader of stored items (Responses input items, as the SDK stores them): who said what, the text of a
message, where the last exchange starts, and the readable steps a transcript is made of. Plain JSON in, plain
values out: no SDK, no rich."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..store.base import Item


def item_role(item: Item) -> str | None:
    """ "user", "assistant", "system" for a message item; None for anything else (calls, outputs, reasoning)."""
    if item.get("type", "message") != "message":
        return None
    role = item.get("role")
    return str(role) if role else None


def parts_text(content: Any, kinds: tuple[str, ...] = ("input_text", "output_text", "text", "refusal")) -> str:
    """The text of a message's content (a string, or parts of the given kinds); images and files as [image]."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in kinds:
            texts.append(str(part.get("text") or part.get("refusal") or ""))
        elif isinstance(part, dict) and part.get("type") in ("input_image", "input_file"):
            texts.append(f"[{str(part['type']).removeprefix('input_')}]")
    return "\n".join(t for t in texts if t)


def item_text(item: Item) -> str:
    """A message's own words: a string content, or its text parts joined (no placeholders for attachments)."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict) and "text" in p)


def first_text(user_input: str | list[Item]) -> str:
    """The user's words in a turn's input: its first text (the session's title comes from it)."""
    if isinstance(user_input, str):
        return user_input
    for item in user_input:
        content = item.get("content")
        if isinstance(content, str):
            return content
        for part in content or []:
            if isinstance(part, dict) and part.get("type") == "input_text":
                return str(part.get("text", ""))
    return ""


def last_user_index(items: list[Item]) -> int | None:
    return next((i for i in range(len(items) - 1, -1, -1) if item_role(items[i]) == "user"), None)


def last_answer(items: list[Item]) -> str:
    answers = [item_text(i) for i in items if item_role(i) == "assistant"]
    return answers[-1] if answers else ""


def turn_starts(items: list[Item]) -> list[int]:
    """Where each turn starts: at each user message (anything before the first one is a turn of its own)."""
    starts = [i for i, item in enumerate(items) if item_role(item) == "user"]
    return starts if not items or starts[:1] == [0] else [0, *starts]


@dataclass(frozen=True)
class Entry:
    """One readable step of a conversation."""

    role: str  # "user", "assistant", "reasoning", "tool"
    text: str = ""
    name: str = ""
    arguments: str = ""
    output: Any = None


def entries(items: list[Item]) -> list[Entry]:
    """The items as readable steps, in order; a tool call carries its output (matched by call id)."""
    outputs = {i.get("call_id"): i.get("output") for i in items if i.get("type") == "function_call_output"}
    out: list[Entry] = []
    for item in items:
        kind, role = item.get("type"), item.get("role")
        if kind == "reasoning":
            text = parts_text(item.get("summary"), ("summary_text",)) or parts_text(
                item.get("content"), ("reasoning_text", "output_text", "text")
            )
            if text:
                out.append(Entry("reasoning", text))
        elif kind == "function_call":
            out.append(
                Entry(
                    "tool",
                    name=str(item.get("name") or "tool"),
                    arguments=str(item.get("arguments") or ""),
                    output=outputs.get(item.get("call_id")),
                )
            )
        elif role == "user" and kind in (None, "message"):
            out.append(Entry("user", parts_text(item.get("content"), ("input_text", "text", "output_text"))))
        elif role == "assistant" and kind in (None, "message"):
            text = parts_text(item.get("content"), ("output_text", "text", "refusal"))
            if text:
                out.append(Entry("assistant", text))
    return out


def turn_groups(steps: list[Entry]) -> list[list[Entry]]:
    """The steps split into turns, each starting at a user message (anything before the first one: a turn)."""
    groups: list[list[Entry]] = []
    for step in steps:
        if step.role == "user" or not groups:
            groups.append([])
        groups[-1].append(step)
    return groups


def json_arguments(raw: str) -> Any:
    """Tool arguments as a JSON value (the model sent JSON text); kept as text if it is not JSON."""
    try:
        return json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return raw


def json_output(output: Any) -> Any:
    """A tool's output as JSON: strings stay strings; objects (MCP content, pydantic models) as their data."""
    if isinstance(output, str | int | float | bool) or output is None:
        return output
    if hasattr(output, "model_dump"):
        return output.model_dump(mode="json")
    if isinstance(output, list | tuple):
        return [json_output(o) for o in output]
    if isinstance(output, dict):
        return {str(k): json_output(v) for k, v in output.items()}
    return str(output)


def messages(items: list[Item]) -> list[dict[str, Any]]:
    """`show --json`'s messages: user and assistant texts, and tool calls with arguments and output."""
    result: list[dict[str, Any]] = []
    for step in entries(items):
        if step.role in ("user", "assistant"):
            result.append({"role": step.role, "text": step.text})
        elif step.role == "tool":
            result.append(
                {"role": "tool", "name": step.name, "arguments": json_arguments(step.arguments),
                 "output": json_output(step.output)}
            )  # fmt: skip
    return result
