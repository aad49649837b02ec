"""A stored session as something to read: a transcript on the terminal (user and assistant messages, the
assistant's Markdown rendered, tool calls with their arguments and a short result, reasoning dimmed, each turn's
model, tokens and cost), the same as a Markdown document (piped `show`, `export --format markdown`), and the
`--json` view (`messages`).

Reads the Agents SDK's items as stored (plain JSON); imports neither the SDK nor openai.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from ..store.base import Item, SessionDump, SessionInfo, TurnRecord
from ..store.dump import iso
from ..tools.display import describe_call, describe_result
from .sanitize import clean


def safe(text: str) -> str:
    """Text from a model or a tool, made harmless for a terminal (ESC becomes ␛, a lone CR ␍, …)."""
    return clean(text)


@dataclass(frozen=True)
class Entry:
    """One readable step of a conversation."""

    role: str  # "user", "assistant", "reasoning", "tool"
    text: str = ""
    name: str = ""
    arguments: str = ""
    output: Any = None


def _parts_text(content: Any, kinds: tuple[str, ...]) -> str:
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


def entries(items: list[Item]) -> list[Entry]:
    """The items as readable steps, in order; a tool call carries its output (matched by call id)."""
    outputs = {i.get("call_id"): i.get("output") for i in items if i.get("type") == "function_call_output"}
    out: list[Entry] = []
    for item in items:
        kind, role = item.get("type"), item.get("role")
        if kind == "reasoning":
            text = _parts_text(item.get("summary"), ("summary_text",)) or _parts_text(
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
            out.append(Entry("user", _parts_text(item.get("content"), ("input_text", "text", "output_text"))))
        elif role == "assistant" and kind in (None, "message"):
            text = _parts_text(item.get("content"), ("output_text", "text", "refusal"))
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


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return raw


def _output_value(output: Any) -> Any:
    return output if isinstance(output, str | int | float | bool | type(None) | list | dict) else str(output)


def messages(items: list[Item]) -> list[dict[str, Any]]:
    """`show --json`'s messages: user and assistant texts, and tool calls with arguments and output."""
    result: list[dict[str, Any]] = []
    for step in entries(items):
        if step.role in ("user", "assistant"):
            result.append({"role": step.role, "text": step.text})
        elif step.role == "tool":
            result.append(
                {
                    "role": "tool",
                    "name": step.name,
                    "arguments": _arguments(step.arguments),
                    "output": _output_value(step.output),
                }
            )
    return result


# -- what list, search and show say about a session -------------------------------------------------------
def session_fields(info: SessionInfo) -> dict[str, Any]:
    """A session as `--json` shows it (list, search, show)."""
    return {
        "id": info.session_id,
        "short_id": info.short_id,
        "title": info.title,
        "model": info.model,
        "created_at": iso(info.created_at),
        "updated_at": iso(info.updated_at),
        "turns": info.turns,
        "input_tokens": info.input_tokens,
        "output_tokens": info.output_tokens,
        "cost": info.cost,
        "origin": info.origin,
    }


def relative_time(timestamp: float, now: float | None = None) -> str:
    """ "just now", "3 min ago", "2 h ago", "yesterday", "4 days ago", then the date (local time)."""
    now = time.time() if now is None else now
    seconds = now - timestamp
    if seconds < 0:
        return "just now" if seconds > -60 else dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d")
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    then, today = dt.datetime.fromtimestamp(timestamp).date(), dt.datetime.fromtimestamp(now).date()
    days = (today - then).days
    if days == 0:
        return f"{int(seconds // 3600)} h ago"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return then.isoformat()


def money(cost: float | None) -> str:
    if cost is None:
        return ""
    return "$0" if cost == 0 else f"${cost:.4f}" if cost >= 0.0001 else f"${cost:.2g}"


def _record_line(record: TurnRecord) -> str:
    from .render import record_usage_line

    return record_usage_line(record)


def _summary_line(info: SessionInfo) -> str:
    parts = [info.session_id, f"last used {relative_time(info.updated_at)}", info.model or "?"]
    parts.append(f"{info.turns} turn{'s' if info.turns != 1 else ''}")
    parts.append(f"{info.input_tokens + info.output_tokens:,} tokens")
    if info.cost is not None:
        parts.append(money(info.cost))
    return " · ".join(parts)


# -- the terminal ----------------------------------------------------------------------------------------
def _turn_renderables(group: list[Entry], record: TurnRecord | None) -> list[RenderableType]:
    from rich.markdown import Markdown  # only `show` on a terminal renders Markdown

    parts: list[RenderableType] = []
    for step in group:
        if step.role == "user":
            parts.append(Rule(Text("you", style="bold green"), align="left", style="green"))
            parts.append(Text(safe(step.text)))
        elif step.role == "reasoning":
            parts.append(Text(safe(step.text), style="dim italic"))
        elif step.role == "tool":
            parts.append(Text(f"⚙ {safe(describe_call(step.name, step.arguments))}", style="cyan"))
            if step.output is not None:
                parts.append(Text(f"  ↳ {safe(describe_result(step.output))}", style="dim"))
        elif step.role == "assistant":
            parts.append(Markdown(safe(step.text)))
    if record is not None:
        parts.append(Text(_record_line(record), style="dim"))
    return parts


def print_transcript(console: Console, dump: SessionDump) -> None:
    """The session on a terminal: a header, then every turn."""
    info = dump.info
    header: list[RenderableType] = [Text(safe(info.title or "untitled"), style="bold")]
    header.append(Text(_summary_line(info), style="dim"))
    if info.origin:
        header.append(Text(f"{info.origin} (started {iso(info.created_at)[:16].replace('T', ' ')} UTC)", style="dim"))
    if info.instructions:
        header.append(Text(f"instructions: {safe(info.instructions)}", style="dim italic"))
    console.print(Group(*header))
    groups = turn_groups(entries(dump.items))
    for index, group in enumerate(groups):
        record = dump.turns[index] if index < len(dump.turns) else None
        console.print()
        console.print(Group(*_turn_renderables(group, record)))


# -- Markdown (piped `show`, `export --format markdown`) ----------------------------------------------------
def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def markdown(dump: SessionDump, *, result_limit: int = 200) -> str:
    info = dump.info
    lines = [f"# {safe(info.title or 'untitled')}", "", f"*{_summary_line(info)}*"]
    if info.origin:
        lines += ["", f"*{info.origin}*"]
    if info.instructions:
        lines += ["", "**Instructions:**", "", _quote(safe(info.instructions))]
    for index, group in enumerate(turn_groups(entries(dump.items))):
        record = dump.turns[index] if index < len(dump.turns) else None
        answering = False  # the assistant's heading is written before its first step of the turn
        for step in group:
            if step.role == "user":
                lines += ["", "## You", "", safe(step.text)]
                continue
            if not answering:
                lines += ["", "## Assistant"]
                answering = True
            if step.role == "reasoning":
                lines += ["", _quote(f"*Thinking:* {safe(step.text)}")]
            elif step.role == "tool":
                call = safe(describe_call(step.name, step.arguments, limit=max(result_limit, 200)))
                result = "" if step.output is None else f" → `{safe(describe_result(step.output, result_limit))}`"
                lines += ["", f"- tool `{call}`{result}"]
            else:
                lines += ["", safe(step.text)]
        if record is not None:
            lines += ["", f"*{_record_line(record)}*"]
    return "\n".join(lines).rstrip() + "\n"
