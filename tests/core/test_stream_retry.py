"""Streams that drop or stall (issue 26), a failed turn after a tool ran (issue 29.5), an answer stopped at its
output limit (issue 32.2): chat.py → the real LiteLLM proxy → the OpenAI-compatible stand-in, whose faults a test
asks for with a marker in its message (tests/standins/script.py: each plays once, so the retry meets a healthy
stream). What was stored is read from the SQLite file."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kaiwa
from tests.harness.db import stored_items, stored_texts
from tests.harness.term import Term
from tests.mcp_fixtures import stdio_server_config
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

ANSWER = "alpha beta gamma delta epsilon"


@pytest.fixture(scope="module", autouse=True)
def streamed_once(proxy: Any, openai_upstream: OpenAIChatStandIn) -> None:
    """One streamed answer through the proxy before these tests: its first stream (cold code paths) reads what an
    upstream sent in one go, so a cut there arrives before any delta; the tests want deltas first, as later."""
    body = {"model": "fake-a", "input": "warm", "stream": True}
    request = urllib.request.Request(
        f"{proxy.base_url}/responses", json.dumps(body).encode(),
        {"Authorization": f"Bearer {proxy.master_key}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the test's own proxy
        response.read()


def marker(kind: str) -> str:
    """A fault marker no other test shares (a marker plays once per stand-in)."""
    return f"[[{kind}#{uuid.uuid4().hex[:8]}]]"


def lines(run: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.out.splitlines()]


def turn_rows(db: Path) -> list[tuple[int, str, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT attempts, outcome, output_tokens FROM kaiwa_turns ORDER BY id").fetchall()


def answers(db: Path, sid: str) -> list[str]:
    return [text for role, text in stored_texts(db, sid) if role == "assistant"]


# -- cut mid-answer ------------------------------------------------------------------------------------------


def test_json_cut_mid_answer_retries_and_done_is_whole(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text=ANSWER, chunks=5, chunk_delay=0.1), Reply(text=ANSWER, chunks=5))
    run = kaiwa("--json", "--input", f"tell me {marker('cut:3')}")
    assert run.code == 0, run.err
    events = lines(run)
    kinds = [e["type"] for e in events]
    retry = events[kinds.index("retry")]
    assert retry["attempt"] == 2 and retry["stage"] == "during_output" and retry["text"] == ""
    before = "".join(e["delta"] for e in events[: kinds.index("retry")] if e["type"] == "text")
    after = "".join(e["delta"] for e in events[kinds.index("retry") :] if e["type"] == "text")
    assert before and ANSWER.startswith(before) and before != ANSWER  # what the cut call streamed
    assert after == ANSWER
    done = events[-1]
    assert done["type"] == "done" and done["text"] == ANSWER and done["attempts"] == 2
    assert answers(kaiwa.db, done["session_id"]) == [ANSWER]  # one whole answer stored
    assert [r[:2] for r in turn_rows(kaiwa.db)] == [(2, "")]
    assert len(upstream.model_requests()) == 2
    assert run.err == ""  # stderr stays quiet on success
    shown = kaiwa("sessions", "show", done["session_id"])
    assert shown.code == 0 and "retried: 2 attempts" in shown.out
    as_json = json.loads(kaiwa("sessions", "show", done["session_id"], "--json").out)
    assert [(t["attempts"], t["outcome"]) for t in as_json["turn_usage"]] == [(2, "")]


def test_piped_plain_text_is_never_written_twice(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text=ANSWER, chunks=5, chunk_delay=0.1), Reply(text=ANSWER, chunks=5))
    message = f"tell me {marker('cut:3')}"
    run = kaiwa("--input", message)
    assert run.code == 1, run.err
    assert run.out and ANSWER.startswith(run.out.rstrip("\n")) and run.out.rstrip("\n") != ANSWER
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cut off mid-stream" in errors[0] and "not retried" in errors[0], run.err
    assert "not sent" not in run.err and message in run.err  # the message comes back, never as "not sent"
    assert len(upstream.model_requests()) == 1
    assert stored_items(kaiwa.db) == []


def test_cut_before_any_text_is_retried_even_into_a_pipe(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text=ANSWER, chunks=5), Reply(text=ANSWER, chunks=5))
    run = kaiwa("--input", f"tell me {marker('cut:1')}")  # the role chunk only: nothing of the answer yet
    assert run.code == 0, run.err
    assert run.out == ANSWER + "\n"
    assert turn_rows(kaiwa.db)[0][0] >= 2


def test_one_shot_on_a_terminal_shows_the_cut_then_the_whole_answer(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text=ANSWER, chunks=5, chunk_delay=0.1), Reply(text=ANSWER, chunks=5))
    term = Term(kaiwa, "--input", f"tell me {marker('cut:3')}")
    try:
        screen = term.wait_for("SESSION_ID=", timeout=60)
    finally:
        term.close()
    cut_at = screen.index("cut off")
    assert "alpha" in screen[:cut_at] and ANSWER in screen[cut_at:]
    assert turn_rows(kaiwa.db)[0][0] == 2


def test_repl_shows_the_cut_then_the_whole_answer(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text=ANSWER, chunks=5, chunk_delay=0.1), Reply(text=ANSWER, chunks=5))
    term = Term(kaiwa)
    try:
        term.ready()
        term.enter(f"tell me {marker('cut:3')}")
        screen = term.wait_for(" in · ", timeout=60)
    finally:
        term.close()
    cut_at = screen.index("cut off")
    assert "alpha" in screen[:cut_at] and ANSWER in screen[cut_at:]
    assert [r[:2] for r in turn_rows(kaiwa.db)] == [(2, "")]


# -- stalls ------------------------------------------------------------------------------------------------------


def test_a_stall_longer_than_the_idle_timeout_is_retried(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text=ANSWER, chunks=5), Reply(text=ANSWER, chunks=5))
    run = kaiwa("--json", "--input", f"tell me {marker('stall:8')}", KAIWA_STREAM_IDLE_TIMEOUT="2")
    assert run.code == 0, run.err
    events = lines(run)
    retries = [e for e in events if e["type"] == "retry"]
    assert len(retries) == 1, (events, len(upstream.model_requests()), run.err)
    assert "nothing arrived for 2 s" in retries[0]["reason"]
    assert events[-1]["text"] == ANSWER and events[-1]["attempts"] == 2


def test_a_slow_steady_stream_is_never_cut(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    """Each piece comes well within the idle timeout and KAIWA_TIMEOUT, the whole answer takes longer than both."""
    upstream.script(Reply(text=ANSWER, chunks=10, chunk_delay=0.5))
    run = kaiwa("--json", "--input", "slowly", KAIWA_STREAM_IDLE_TIMEOUT="3", KAIWA_TIMEOUT="2")
    assert run.code == 0, run.err
    events = lines(run)
    assert "retry" not in [e["type"] for e in events]
    assert events[-1]["text"] == ANSWER and events[-1]["attempts"] == 1 and events[-1]["stop_reason"] == "stop"
    assert len(upstream.model_requests()) == 1


# -- tools -------------------------------------------------------------------------------------------------------


def with_counter(kaiwa: Kaiwa, tmp_path: Path) -> Path:
    counter = tmp_path / "counter"
    config = tmp_path / "mcp.json"
    server = {**stdio_server_config(env={"KAIWA_FIXTURE_COUNTER_FILE": str(counter)}), "approve": "always"}
    config.write_text(json.dumps({"mcpServers": {"words": server}}), encoding="utf-8")
    kaiwa.env["KAIWA_MCP_CONFIG"] = str(config)
    return counter


COUNT = Reply(text="", tool_calls=[ToolCall("count_up", {}, "call_count")])


def test_a_tool_runs_once_when_the_stream_after_it_is_cut(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    counter = with_counter(kaiwa, tmp_path)
    upstream.script(COUNT, Reply(text=ANSWER, chunks=5, chunk_delay=0.1), Reply(text=ANSWER, chunks=5))
    run = kaiwa("--json", "--input", f"count {marker('cut-after-tool')}")
    assert run.code == 0, run.err
    assert counter.read_text() == "1"  # ran exactly once
    events = lines(run)
    [retry] = [e for e in events if e["type"] == "retry"]
    assert retry["kept"] == ["count_up"]
    assert [e["type"] for e in events].count("tool_result") == 1
    assert events[-1]["text"] == ANSWER
    items = stored_items(kaiwa.db)
    assert [i.get("type", "message") for i in items] == ["message", "function_call", "function_call_output", "message"]
    # the retried call carried the tool's result: the model continued after it
    last = upstream.model_requests()[-1].body["messages"]
    assert [m["role"] for m in last][-2:] == ["assistant", "tool"] and "counter is now 1" in str(last[-1])


def test_a_failed_turn_after_a_tool_keeps_it_and_a_retry_continues(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    """Issue 29.5: the tool ran, then the model call after it failed (500)."""
    counter = with_counter(kaiwa, tmp_path)
    upstream.script(COUNT, *[Reply(status=500, error_message="busy")] * 8)
    run = kaiwa("--input", "count once")
    assert run.code == 1, run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "count_up ran" in errors[0], run.err
    assert "not sent" not in run.err and "nothing was saved" not in run.err
    sid = run.session_id
    assert sid and counter.read_text() == "1"
    kept = stored_items(kaiwa.db, sid)
    assert [i.get("type", "message") for i in kept] == ["message", "function_call", "function_call_output"]
    assert [r[1] for r in turn_rows(kaiwa.db)] == ["failed"]
    upstream.reset()
    upstream.script(Reply(text="counted"))
    again = kaiwa("--input", "count once", "--session-id", sid)  # the same message: a retry
    assert again.code == 0, again.err
    assert again.out == "counted\n" and counter.read_text() == "1"  # never run twice
    assert stored_texts(kaiwa.db, sid)[0] == ("user", "count once")
    assert [i.get("type", "message") for i in stored_items(kaiwa.db, sid)] == [
        "message", "function_call", "function_call_output", "message",
    ]  # fmt: skip
    assert [r[1] for r in turn_rows(kaiwa.db)] == [""]  # one turn, whole now
    [request] = upstream.model_requests()
    assert [m["role"] for m in request.body["messages"]][-3:] == ["user", "assistant", "tool"]


# -- retries exhausted ---------------------------------------------------------------------------------------


def test_retries_exhausted_is_one_line_and_nothing_stored(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(text=ANSWER, chunks=5, cut_after=1)] * 12)
    run = kaiwa("--input", "never whole", KAIWA_STREAM_RETRIES="1")
    assert run.code == 1, run.err
    assert "Traceback" not in run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broke off 2 times" in errors[0], run.err
    assert "never whole" in run.err  # the message, printed back
    assert stored_items(kaiwa.db) == []
    assert run.out == ""


# -- the output limit (issue 32.2) -------------------------------------------------------------------------------


LONG = "word " * 60


def test_an_answer_cut_by_the_output_limit_is_kept(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text=LONG, chunks=6, output_tokens=90))
    run = kaiwa("--input", "talk a lot", "--max-output-tokens", "16")
    assert run.code == 0, run.err
    assert run.out.strip() and LONG.startswith(run.out.rstrip("\n")) and len(run.out) < len(LONG)
    assert "output limit" in run.err and "not sent" not in run.err and "error:" not in run.err
    sid = run.session_id
    assert sid and answers(kaiwa.db, sid) == [run.out.rstrip("\n")]
    assert [r[1] for r in turn_rows(kaiwa.db)] == ["length"]
    upstream.script(Reply(text=LONG, chunks=6, output_tokens=90))
    as_json = kaiwa("--json", "--input", "talk a lot", "--max-output-tokens", "16")
    assert as_json.code == 0 and lines(as_json)[-1]["stop_reason"] == "length"


def test_json_failure_does_not_echo_the_message_on_stderr(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(status=500, error_message="busy")] * 8)
    run = kaiwa("--json", "--input", "a private message")
    assert run.code == 1
    assert lines(run)[-1]["type"] == "error"
    assert "a private message" not in run.err and "your message" not in run.err


@pytest.mark.parametrize(
    ("alias", "cloud"),
    [("azure-foundry-claude", "foundry"), ("bedrock-claude-3-5-sonnet", "bedrock")],
)
def test_each_clouds_own_length_stop_is_kept(
    kaiwa: Kaiwa, alias: str, cloud: str, request: pytest.FixtureRequest
) -> None:
    """Anthropic's `stop_reason: max_tokens` and Bedrock's `stopReason: max_tokens`, through LiteLLM's bridge."""
    stand_in = request.getfixturevalue(cloud)
    stand_in.script(Reply(text=LONG, chunks=6, output_tokens=90))
    run = kaiwa("--json", "--input", "talk a lot", "--max-output-tokens", "16", "--model", alias, "--no-tools")
    assert run.code == 0, run.err
    done = lines(run)[-1]
    assert done["type"] == "done" and done["stop_reason"] == "length"
    assert done["text"] and LONG.startswith(done["text"]) and len(done["text"]) < len(LONG)
