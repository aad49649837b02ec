"""How a stored session reads (transcript on a terminal, Markdown, --json messages), the lossless JSON dump and
its copies, relative times, and compact's turn cutting — on items shaped exactly as the SDK stores them through
the proxy (captured from a real turn with reasoning and a tool call)."""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from kaiwa.core.compact import _partial
from kaiwa.core.history import turn_starts as _turn_starts
from kaiwa.errors import KaiwaError
from kaiwa.store import dump as dumps
from kaiwa.store.base import SessionDump, SessionInfo, TurnRecord
from kaiwa.ui import transcript

SID = "019ac0de-0000-7000-8000-00000000abcd"
ITEMS = [
    {"content": "2**100?", "role": "user"},
    {
        "id": "rs_ec4c5f99",
        "type": "reasoning",
        "content": [{"text": "The user wants an exact power of two.", "type": "output_text", "annotations": []}],
        "status": "completed",
        "role": "assistant",
        "encrypted_content": "gAAAA-signed",
    },
    {
        "arguments": '{"expression": "2**100"}',
        "call_id": "call_calc",
        "name": "calculate",
        "type": "function_call",
        "id": "fc_call_calc",
        "status": "completed",
    },
    {"call_id": "call_calc", "output": "1267650600228229401496703205376", "type": "function_call_output"},
    {
        "id": "msg_e5ef",
        "content": [{"annotations": [], "text": "It is **1267650600228229401496703205376**.", "type": "output_text"}],
        "role": "assistant",
        "status": "completed",
        "type": "message",
    },
    {"content": [{"type": "input_text", "text": "and \x1b[31mhalf\x07 of it?"}], "role": "user"},
    {
        "id": "msg_2",
        "content": [{"annotations": [], "text": "Half is 2**99.", "type": "output_text"}],
        "role": "assistant",
        "status": "completed",
        "type": "message",
    },
]
TURNS = [
    TurnRecord("fake-a", 120, 30, 9, 0, 0.00048, ("call-1", "call-2"), 900, 1_764_000_000.25),
    TurnRecord("fake-b", 200, 10, 0, 64, None, ("call-3",), 300, 1_764_000_100.5),
]


def sample() -> SessionDump:
    info = SessionInfo(SID, 1_764_000_000.0, 1_764_000_100.5, "fake-b", "2**100?", instructions="Be terse.")
    return SessionDump(dumps.with_totals(info, TURNS), [dict(i) for i in ITEMS], list(TURNS))


def test_messages_for_json_in_order_with_tool_calls() -> None:
    assert transcript.messages(ITEMS) == [
        {"role": "user", "text": "2**100?"},
        {
            "role": "tool",
            "name": "calculate",
            "arguments": {"expression": "2**100"},
            "output": "1267650600228229401496703205376",
        },
        {"role": "assistant", "text": "It is **1267650600228229401496703205376**."},
        {"role": "user", "text": "and \x1b[31mhalf\x07 of it?"},  # JSON keeps the text as stored
        {"role": "assistant", "text": "Half is 2**99."},
    ]


def test_markdown_transcript_reads_like_the_conversation() -> None:
    text = transcript.markdown(sample())
    assert text.startswith("# 2**100?\n")
    assert (
        text.index("## You\n\n2**100?")
        < text.index("*Thinking:* The user wants")
        < text.index("- tool `calculate(expression='2**100')` → `1267650600228229401496703205376`")
        < text.index("It is **1267650600228229401496703205376**.")
        < text.index("Half is 2**99.")
    )
    assert text.count("## Assistant") == 2 and text.count("## You") == 2
    assert "*fake-a · 120 in · 30 out (9 reasoning) · $0.00048*" in text
    assert "*fake-b · 136 in (64 cached) · 10 out*" in text
    assert "Be terse." in text
    assert "\x1b" not in text and "\x07" not in text and "␛[31mhalf␇" in text  # shown, never obeyed


def test_terminal_transcript_renders_markdown_and_dims_reasoning() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system="standard")
    transcript.print_transcript(console, sample())
    raw = buffer.getvalue()
    assert "\x1b[2;3mThe user wants an exact power of two." in raw  # dim italic
    assert "⚙ calculate(expression='2**100')" in raw and "↳ 1267650600228229401496703205376" in raw
    assert "**" not in raw.replace("2**100", "").replace("2**99", "")  # the answer's bold was rendered
    assert "fake-a · 120 in · 30 out (9 reasoning) · $0.00048" in raw
    assert "\x1b[31mhalf" not in raw and "␛[31mhalf" in raw


def test_json_dump_is_lossless_and_round_trips() -> None:
    original = sample()
    data = json.loads(dumps.dumps(original))
    assert data["items"] == ITEMS  # verbatim: reasoning with its encrypted content, the tool call and its output
    back = dumps.from_json(data)
    assert back.items == original.items
    assert back.turns == original.turns
    assert back.info == original.info
    assert (back.info.turns, back.info.input_tokens, back.info.output_tokens) == (2, 320, 40)
    assert back.info.cost == pytest.approx(0.00048)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"hello": 1}, "not a kaiwa session export"),
        ({"format": "kaiwa-session", "version": 99}, "newer than this kaiwa"),
        ({"format": "kaiwa-session", "version": 1, "session": {"id": SID}}, "incomplete"),
        ({"format": "kaiwa-session", "version": 1, "session": {}, "items": []}, "damaged"),
        ({"format": "kaiwa-session", "version": 1, "session": {"id": SID}, "items": [1]}, "is not a JSON object"),
    ],
)
def test_bad_exports_are_one_line(data: object, needle: str) -> None:
    with pytest.raises(KaiwaError) as caught:
        dumps.from_json(data, "x.json")
    assert needle in caught.value.line() and "\n" not in caught.value.line()


def test_fork_and_import_copies() -> None:
    original = sample()
    copy = dumps.fork(original)
    assert copy.info.session_id != SID and copy.info.origin == f"fork of {SID}"
    assert copy.items == original.items and copy.turns == original.turns
    assert copy.info.instructions == "Be terse." and copy.info.created_at > original.info.created_at
    copy.items[0]["content"] = "changed"
    assert original.items[0]["content"] == "2**100?"  # the original is untouched
    same = dumps.imported(original, new_id=False)
    assert same.info.session_id == SID and same.info.origin == "imported"
    other = dumps.imported(original, new_id=True)
    assert other.info.session_id != SID and other.info.origin == f"imported copy of {SID}"


def test_relative_times() -> None:
    now = time.mktime((2026, 11, 26, 15, 0, 0, 0, 0, -1))
    assert transcript.relative_time(now - 20, now) == "just now"
    assert transcript.relative_time(now - 180, now) == "3 min ago"
    assert transcript.relative_time(now - 2 * 3600, now) == "2 h ago"
    assert transcript.relative_time(now - 18 * 3600, now) == "yesterday"
    assert transcript.relative_time(now - 3 * 86400, now) == "3 days ago"
    assert transcript.relative_time(now - 30 * 86400, now) == "2026-10-27"


def test_compact_cuts_whole_turns() -> None:
    assert _turn_starts(ITEMS) == [0, 5]
    assert _turn_starts(ITEMS[1:]) == [0, 4]  # items before the first user message are a turn
    last = _partial(sample(), 1)
    assert last.items == ITEMS[5:] and last.turns == TURNS[1:]
