"""Compaction in place (issue 25), through the real proxy to the OpenAI-compatible stand-in, whose `fake-small`
alias has a 3,000-token window it enforces with OpenAI's own `context_length_exceeded` error."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tests.conftest import SMALL_MODEL, SMALL_WINDOW, Kaiwa
from tests.harness.bodies import user_texts
from tests.harness.db import stored_items
from tests.harness.term import Term
from tests.standins.openai_compat import OpenAIChatStandIn, request_tokens
from tests.standins.script import Reply

RULES = "Answer in French. Never use the word 'banana'. Sign every answer with -- K."
ANSWER = "Noted. " + "Here is a considered reply that takes some room in the context window. " * 4
SUMMARISER_MARK = "You compact conversations"


def _message(n: int) -> str:
    return f"message {n:02d}: " + f"please keep this in mind, item {n} of the plan is settled. " * 4


def _system(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    return first["content"] if first["role"] == "system" and isinstance(first["content"], str) else ""


def _summaries(upstream: OpenAIChatStandIn) -> list[dict[str, Any]]:
    return [r.body for r in upstream.model_requests() if SUMMARISER_MARK in _system(r.body)]


def _turns(upstream: OpenAIChatStandIn) -> list[dict[str, Any]]:
    return [r.body for r in upstream.model_requests() if SUMMARISER_MARK not in _system(r.body)]


def _compactions(db: Any) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM kaiwa_compactions").fetchone()[0])
    finally:
        conn.close()


def test_thirty_turns_past_the_window_compact_in_place(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(text=ANSWER) for _ in range(60)])
    term = Term(kaiwa, "--model", SMALL_MODEL, "--system", RULES)
    try:
        term.ready()
        for n in range(30):
            term.turn(_message(n))
        assert "compacted the conversation" in term.text  # the notice, on the terminal
    finally:
        term.close()
    assert "context-window" not in upstream.rejections  # no turn went past the window
    assert _summaries(upstream), "no compaction"
    turns = _turns(upstream)
    assert len(turns) == 30  # every turn answered, none sent twice
    for n, body in enumerate(turns):
        assert user_texts(body)[-1] == _message(n)  # the newest message reaches the model verbatim
        assert _system(body) == RULES  # the instructions, word for word, also after each compaction
        assert request_tokens(body) <= SMALL_WINDOW
    assert user_texts(turns[-1])[0] != _message(0)  # the oldest messages went upstream as a summary
    listed = json.loads(kaiwa("sessions", "list", "--json").out)
    assert len(listed) == 1  # the session kept its id: no new session was started
    shown = json.loads(kaiwa("sessions", "show", listed[0]["id"], "--json").out)
    texts = json.dumps(shown)
    assert all(_message(n) in texts for n in range(30))  # the whole transcript stays stored
    assert len([m for m in stored_items(kaiwa.db, listed[0]["id"]) if m.get("role") == "user"]) == 30


def test_undo_right_after_the_compacting_turn_restores_what_was_sent(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(text=ANSWER) for _ in range(20)])
    term = Term(kaiwa, "--model", SMALL_MODEL)
    try:
        term.ready()
        n = 0
        while not _summaries(upstream):
            term.turn(_message(n))
            n += 1
        assert _compactions(kaiwa.db) == 1
        term.enter("/undo")
        term.after("removed the last exchange")
    finally:
        term.close()
    assert _compactions(kaiwa.db) == 0  # what is sent is what it was before that turn


def test_auto_compact_off_keeps_todays_behaviour(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(text=ANSWER) for _ in range(20)])
    sid = ""
    for n in range(20):
        args = ["--model", SMALL_MODEL, "--input", _message(n), *(["--session-id", sid] if sid else [])]
        run = kaiwa(*args, KAIWA_AUTO_COMPACT="off")
        if run.code != 0:
            break
        sid = sid or str(run.session_id)
    assert run.code != 0 and "no longer fits the context window of 'fake-small'" in run.err
    assert not _summaries(upstream) and "context-window" in upstream.rejections
    assert len([m for m in stored_items(kaiwa.db, sid) if m.get("role") == "user"]) == n  # as it was


def test_a_context_error_compacts_once_and_retries_the_turn(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(text=ANSWER) for _ in range(40)])
    sid = ""
    for n in range(30):  # the stated window is wrong (too large): only the cloud's refusal says it is full
        args = ["--json", "--model", SMALL_MODEL, "--input", _message(n), *(["--session-id", sid] if sid else [])]
        run = kaiwa(*args, KAIWA_CONTEXT_WINDOW="100000")
        assert run.code == 0, run.err
        sid = sid or json.loads(run.out.splitlines()[0])["session_id"]
        if "context-window" in upstream.rejections:  # the cloud refused this turn …
            break
    lines = [json.loads(line) for line in run.out.splitlines()]
    assert [line["reason"] for line in lines if line["type"] == "compaction"] == ["context_error"]
    assert lines[-1]["type"] == "done"  # … which compacted and was answered
    assert len(_summaries(upstream)) == 1
    assert user_texts(_turns(upstream)[-1])[-1] == _message(n)
    assert len([m for m in stored_items(kaiwa.db, sid) if m.get("role") == "user"]) == n + 1


def test_a_message_too_large_for_the_window_is_refused_before_sending(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    run = kaiwa("--model", SMALL_MODEL, "--input", "word " * 3_200)  # 16,000 bytes: about 4,000 tokens
    assert run.code != 0
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert any("about 4,000 tokens" in line and "3,000" in line for line in lines), run.err
    assert "Traceback" not in run.err
    assert not upstream.model_requests() and not stored_items(kaiwa.db)
