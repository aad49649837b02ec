"""A stored session as something to read: a transcript on the terminal (user and assistant messages, the
assistant's Markdown rendered, tool calls with their arguments and a short result, reasoning dimmed, each turn's
model, tokens and cost), the same as a Markdown document (piped `show`, `export --format markdown`), and the
`--json` view (`messages`).

Reads the stored items through `core/history.py`; imports neither the SDK nor openai.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from ..core.history import Entry, entries, messages, turn_groups
from ..store.base import SessionDump, SessionInfo, TurnRecord
from ..store.dump import iso
from ..tools.display import describe_call, describe_result
from .format import money, plural, record_usage_line, relative_time
from .sanitize import clean

__all__ = ["markdown", "messages", "money", "print_transcript", "relative_time", "session_fields", "summariser_text"]


def safe(text: str) -> str:
    """Text from a model or a tool, made harmless for a terminal (ESC becomes ␛, a lone CR ␍, …)."""
    return clean(text)


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
        "role": info.role,
    }


def _record_line(record: TurnRecord) -> str:
    return record_usage_line(record) + turn_fate(record)


def turn_fate(record: TurnRecord) -> str:
    """How a stored turn went, when it was not simply answered (shown after its usage)."""
    parts = []
    if record.attempts > 1:
        parts.append(f"retried: {record.attempts} attempts (a stream broke off)")
    if record.outcome == "length":
        parts.append("cut off at the output limit")
    elif record.outcome == "failed":
        parts.append("failed after its tools ran (their results are kept)")
    return "".join(f" · {part}" for part in parts)


def _summary_line(info: SessionInfo) -> str:
    parts = [info.session_id, f"last used {relative_time(info.updated_at)}", info.model or "?"]
    parts.append(plural(info.turns, "turn"))
    parts.append(plural(info.input_tokens + info.output_tokens, "token"))
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


def print_transcript(console: Console, dump: SessionDump, cache: str = "") -> None:
    """The session on a terminal: a header (with `cache`, what prompt caching did: `format.cache_totals`), then
    every turn."""
    info = dump.info
    header: list[RenderableType] = [Text(safe(info.title or "untitled"), style="bold")]
    header.append(Text(_summary_line(info), style="dim"))
    if cache:
        header.append(Text(f"prompt cache: {cache}", style="dim"))
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


def markdown(dump: SessionDump, *, result_limit: int = 200, cache: str = "") -> str:
    info = dump.info
    lines = [f"# {safe(info.title or 'untitled')}", "", f"*{_summary_line(info)}*"]
    if cache:
        lines += ["", f"*prompt cache: {cache}*"]
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


def summariser_text(dump: SessionDump, result_limit: int) -> str:
    """The transcript compaction sends the model (`core.compact.AsText`)."""
    return markdown(dump, result_limit=result_limit)
