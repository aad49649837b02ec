"""`chat.py sessions …`, `--session-id FRAGMENT` and `-c` end to end: chat.py as a subprocess (a pseudo-terminal
where a terminal matters) on real SQLite files, turns through the REAL LiteLLM proxy and the scripted
OpenAI-compatible stand-in behind fake-a/fake-b.

Sessions whose ids a test must control (fragments) are put in with `sessions import`, itself under test."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from typing import Any

import pexpect
import pytest

from tests.conftest import CHAT, Kaiwa, Run
from tests.harness.asserts import assert_one_line_failure
from tests.harness.bodies import user_texts
from tests.harness.db import stored_items
from tests.harness.term import Term
from tests.standins.openai_compat import OpenAIChatStandIn, context_window_reply
from tests.standins.script import Reply, ToolCall

A = "019ac0de-1111-7000-8000-00000aaaa001"
B = "019ac0de-2222-7000-8000-00000aaaa002"
NOW = 1_764_000_000.0


def export_doc(sid: str, title: str, question: str, answer: str, updated_at: float = NOW) -> dict[str, Any]:
    """A JSON export as `sessions export --format json` writes it: one turn with a tool call."""
    return {
        "format": "kaiwa-session",
        "version": 1,
        "session": {
            "id": sid,
            "title": title,
            "model": "fake-a",
            "created_at": updated_at - 60,
            "updated_at": updated_at,
        },
        "items": [
            {"content": question, "role": "user"},
            {"arguments": '{"expression": "6*7"}', "call_id": "c1", "name": "calculate", "type": "function_call"},
            {"call_id": "c1", "output": "42", "type": "function_call_output"},
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": answer, "annotations": []}],
            },
        ],
        "turns": [
            {"model": "fake-a", "input_tokens": 100, "output_tokens": 20, "cost": 0.00036, "created_at": updated_at}
        ],
    }


def put(kaiwa: Kaiwa, doc: dict[str, Any], *args: str) -> Run:
    path = kaiwa.home / f"{doc['session']['id']}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    run = kaiwa("sessions", "import", str(path), *args)
    assert run.code == 0, run.err
    return run


def listed(kaiwa: Kaiwa) -> list[dict[str, Any]]:
    run = kaiwa("sessions", "list", "--json")
    assert run.code == 0, run.err
    return json.loads(run.out)


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def screen_of(child: pexpect.spawn) -> str:
    """Everything the child wrote to its terminal, styles removed."""
    child.expect(pexpect.EOF)
    return re.sub(r"\x1b\[[0-9;]*m", "", child.before)


def spawn(kaiwa: Kaiwa, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        [str(CHAT), *args],
        cwd=str(kaiwa.home),
        env={**kaiwa.env, "COLUMNS": "120", "LINES": "40", "TERM": "xterm"},
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )


# -- naming ------------------------------------------------------------------------------------------------
def test_fragments_unique_ambiguous_unknown(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    put(kaiwa, export_doc(A, "terraform state lock", "why is my state locked?", "Someone holds the lock."))
    put(kaiwa, export_doc(B, "pasta for four", "how much pasta?", "About 400 g.", NOW + 10))
    for ref, expected in ((A, A), (A.upper(), A), ("0aaaa002", B), ("aaaa001", A), ("1111-7000", A)):
        run = kaiwa("sessions", "show", ref, "--json")
        assert run.code == 0, (ref, run.err)
        assert json.loads(run.out)["id"] == expected, ref

    ambiguous = kaiwa("sessions", "show", "0aaaa0")
    assert_one_line_failure(ambiguous, 2, "matches 2 sessions", "0aaaa001", "terraform state lock", "0aaaa002")
    assert_one_line_failure(kaiwa("sessions", "show", "ffffff"), 2, "no session matches 'ffffff'")
    assert_one_line_failure(kaiwa("sessions", "show", "aa01"), 2, "too short")
    assert_one_line_failure(kaiwa("sessions", "show", "019ac0de-1111-7000-8000-00000000ffff"), 2, "no session")

    # --session-id takes the same names; a bad one never reaches the model nor starts a session.
    for ref, code in (("0aaaa0", 2), ("ffffff", 2)):  # an unknown session is bad input, as README says
        assert_one_line_failure(kaiwa("--input", "more", "--session-id", ref), code, "session")
    assert upstream.model_requests() == [] and len(listed(kaiwa)) == 2
    upstream.script(Reply(text="Break it with terraform force-unlock."))
    run = kaiwa("--input", "how do I break it?", "--session-id", "aaaa001")
    assert run.code == 0 and run.session_id == A, run.err
    assert user_texts(upstream.model_requests()[-1].body) == ["why is my state locked?", "how do I break it?"]


def test_continue_latest(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    assert_one_line_failure(kaiwa("--input", "hi", "-c"), 1, "no stored session to continue")
    assert upstream.model_requests() == []
    first = kaiwa("--input", "first topic").session_id
    second = kaiwa("--input", "second topic").session_id
    assert first and second
    run = kaiwa("--input", "more on it", "--continue")
    assert run.code == 0 and run.session_id == second, run.err
    assert user_texts(upstream.model_requests()[-1].body) == ["second topic", "more on it"]
    assert kaiwa("--input", "back to one", "--session-id", first[-8:]).session_id == first
    assert kaiwa("--input", "and again", "-c").session_id == first  # now the most recently used
    assert user_texts(upstream.model_requests()[-1].body) == ["first topic", "back to one", "and again"]
    assert_one_line_failure(kaiwa("--input", "x", "-c", "--session-id", second), 2, "--continue")


# -- list, show, rename -------------------------------------------------------------------------------------
def test_list_and_show_plain_and_json(kaiwa: Kaiwa) -> None:
    empty = kaiwa("sessions")
    assert empty.code == 0 and empty.out == "" and "no stored sessions" in empty.err
    assert kaiwa("sessions", "--json").out.strip() == "[]"
    put(kaiwa, export_doc(A, "terraform state lock", "why is my state locked?", "Someone **holds** the lock."))
    put(kaiwa, export_doc(B, "pasta for four", "how much pasta?", "About 400 g.", NOW + 10))

    piped = kaiwa("sessions")  # bare `sessions` = `list`; piped: tab-separated, the full id first
    assert piped.code == 0, piped.err
    lines = [line.split("\t") for line in piped.out.splitlines()]
    assert [f[0] for f in lines] == [B, A]  # most recently used first
    assert lines[1][2:] == ["fake-a", "1", "120", "$0.00036", "terraform state lock"]  # the one cost format
    assert kaiwa("sessions", "list", "--limit", "1").out.count("\n") == 1

    [newest, oldest] = listed(kaiwa)
    assert oldest == {
        "id": A,
        "short_id": "0aaaa001",
        "title": "terraform state lock",
        "model": "fake-a",
        "created_at": "2025-11-24T15:59:00+00:00",
        "updated_at": "2025-11-24T16:00:00+00:00",
        "turns": 1,
        "input_tokens": 100,
        "output_tokens": 20,
        "cost": pytest.approx(0.00036),
        "origin": "imported",
        "role": None,
    }
    assert newest["id"] == B

    shown = kaiwa("sessions", "show", "aaaa001")  # piped: the Markdown transcript
    assert shown.code == 0, shown.err
    assert shown.out.startswith("# terraform state lock\n")
    assert (
        "## You\n\nwhy is my state locked?" in shown.out and "- tool `calculate(expression='6*7')` → `42`" in shown.out
    )
    assert "Someone **holds** the lock." in shown.out and "fake-a · 100 in · 20 out · $0.00036" in shown.out
    data = json.loads(kaiwa("sessions", "show", "aaaa001", "--json").out)
    assert data["id"] == A and data["title"] == "terraform state lock" and data["turns"] == 1
    assert data["messages"] == [
        {"role": "user", "text": "why is my state locked?"},
        {"role": "tool", "name": "calculate", "arguments": {"expression": "6*7"}, "output": "42"},
        {"role": "assistant", "text": "Someone **holds** the lock."},
    ]


def test_rename(kaiwa: Kaiwa) -> None:
    put(kaiwa, export_doc(A, "why is my state locked?", "why is my state locked?", "A lock."))
    run = kaiwa("sessions", "rename", "0aaaa001", "Terraform  state\nlock")
    assert run.code == 0 and "renamed 0aaaa001: Terraform state lock" in run.err, run.err
    assert listed(kaiwa)[0]["title"] == "Terraform state lock"
    assert_one_line_failure(kaiwa("sessions", "rename", "0aaaa001", "  "), 2, "title is empty")
    assert_one_line_failure(kaiwa("sessions", "rename", "zzzzzz", "x"), 2, "no session matches")


def test_on_a_terminal_list_and_show_are_readable(kaiwa: Kaiwa) -> None:
    put(kaiwa, export_doc(A, "terraform state lock", "why is my state locked?", "Someone **holds** the lock."))
    screen = screen_of(spawn(kaiwa, "sessions"))
    assert "0aaaa001" in screen and A not in screen  # the short id on a terminal
    assert "terraform state lock" in screen and "2025-11-24" in screen and "$0.00036" in screen
    screen = screen_of(spawn(kaiwa, "sessions", "show", "0aaaa001"))
    assert "why is my state locked?" in screen and "⚙ calculate(expression='6*7')" in screen and "↳ 42" in screen
    assert "Someone holds the lock." in screen  # Markdown rendered, not shown raw
    assert "fake-a · 100 in · 20 out · $0.00036" in screen


# -- search ------------------------------------------------------------------------------------------------
def test_search_after_a_failed_turn_and_after_delete(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="Run terraform force-unlock with the lock id."))
    sid = kaiwa("--input", "my terraform state is locked, what now?").session_id
    assert sid
    upstream.script(context_window_reply())  # a 400: refused at once (5xx would be retried into the next reply)
    failed = kaiwa("--input", "what about zanzibar?", "--session-id", sid)
    assert failed.code == 1
    assert kaiwa("sessions", "search", "zanzibar", "--json").out.strip() == "[]"  # the failed turn left nothing

    hits = json.loads(kaiwa("sessions", "search", "terraform", "--json").out)
    assert [h["id"] for h in hits] == [sid] and "terraform" in hits[0]["snippet"].lower()
    piped = kaiwa("sessions", "search", "force-unlock")
    assert piped.code == 0 and piped.out.startswith(f"{sid}\t"), piped.err
    none = kaiwa("sessions", "search", "kilimanjaro")
    assert none.code == 0 and none.out == "" and "no stored conversation contains" in none.err

    assert kaiwa("sessions", "delete", sid, "--yes").code == 0
    assert kaiwa("sessions", "search", "terraform", "--json").out.strip() == "[]"


# -- fork, export, import -------------------------------------------------------------------------------------
def test_fork_then_diverge(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "plan a trip to Kyoto").session_id
    assert sid
    before = stored_items(kaiwa.db, sid)
    forked = kaiwa("sessions", "fork", sid[-8:])
    assert forked.code == 0, forked.err
    new = forked.session_id
    assert new and new != sid and forked.out == ""
    as_json = kaiwa("sessions", "fork", sid[-8:], "--json")
    assert json.loads(as_json.out)["origin"] == f"fork of {sid}"

    assert kaiwa("--input", "by train", "--session-id", new).code == 0
    assert user_texts(upstream.model_requests()[-1].body) == ["plan a trip to Kyoto", "by train"]
    assert kaiwa("--input", "by plane", "--session-id", sid).code == 0
    assert user_texts(upstream.model_requests()[-1].body) == ["plan a trip to Kyoto", "by plane"]
    assert stored_items(kaiwa.db, sid)[: len(before)] == before
    shown = json.loads(kaiwa("sessions", "show", new, "--json").out)
    assert [m["text"] for m in shown["messages"] if m["role"] == "user"] == ["plan a trip to Kyoto", "by train"]
    assert shown["origin"] == f"fork of {sid}"


def test_export_delete_import_resume_sends_the_full_original_history(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(
            text="",
            thinking="An exact power is wanted.",
            tool_calls=[ToolCall("calculate", {"expression": "2**64"}, "call_pow")],
        ),
        Reply(text="2**64 is 18446744073709551616."),
    )
    sid = kaiwa("--input", "2**64?", "--reasoning", "low").session_id
    assert sid
    items = stored_items(kaiwa.db, sid)
    assert {i.get("type") for i in items} >= {"reasoning", "function_call", "function_call_output"}

    # What the upstream receives when this history goes on (taken from a fork, so the original stays as it is).
    fork = kaiwa("sessions", "fork", sid).session_id
    assert fork
    upstream.script(Reply(text="baseline"))
    assert kaiwa("--input", "and 2**65?", "--session-id", fork).code == 0
    baseline = upstream.model_requests()[-1].body["messages"]

    exported = kaiwa("sessions", "export", sid, "--format", "json", "-o", "trip.json")
    assert exported.code == 0, exported.err
    path = kaiwa.home / "trip.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["items"] == items  # verbatim

    assert kaiwa("sessions", "delete", sid, "fork", "--yes").code != 0  # an unknown name: nothing deleted
    assert stored_items(kaiwa.db, sid) == items
    deleted = kaiwa("sessions", "delete", sid, fork, "--yes")
    assert deleted.code == 0 and "deleted 2 sessions" in deleted.err
    assert stored_items(kaiwa.db, sid) == [] and listed(kaiwa) == []

    imported = kaiwa("sessions", "import", "trip.json")
    assert imported.code == 0 and imported.session_id == sid, imported.err
    assert stored_items(kaiwa.db, sid) == items
    assert_one_line_failure(kaiwa("sessions", "import", "trip.json"), 1, "already stored", "--new-id")
    copy = kaiwa("sessions", "import", "trip.json", "--new-id", "--json")
    assert copy.code == 0 and json.loads(copy.out)["origin"] == f"imported copy of {sid}"

    upstream.script(Reply(text="2**65 is 36893488147419103232."))
    resumed = kaiwa("--input", "and 2**65?", "--session-id", sid)
    assert resumed.code == 0 and resumed.out == "2**65 is 36893488147419103232.\n", resumed.err
    sent = upstream.model_requests()[-1].body["messages"]
    assert sent == baseline  # the full original history: reasoning, the tool call and its output
    assistant = next(m for m in sent if m["role"] == "assistant" and m.get("tool_calls"))
    assert assistant["reasoning_content"] == "An exact power is wanted."
    assert [m["content"] for m in sent if m["role"] == "tool"] == ["18446744073709551616"]
    assert upstream.rejections == []


def test_export_markdown_and_bad_imports(kaiwa: Kaiwa) -> None:
    put(kaiwa, export_doc(A, "terraform state lock", "why is my state locked?", "A lock."))
    md = kaiwa("sessions", "export", "0aaaa001")
    assert md.code == 0 and md.out.startswith("# terraform state lock\n") and "## Assistant" in md.out
    (kaiwa.home / "notes.md").write_text(md.out)
    assert_one_line_failure(kaiwa("sessions", "import", "notes.md"), 1, "not JSON")
    assert_one_line_failure(kaiwa("sessions", "import", "nowhere.json"), 1, "no such file")
    assert_one_line_failure(kaiwa("sessions", "export", "0aaaa001", "--format", "pdf"), 2, "pdf")


# -- delete ------------------------------------------------------------------------------------------------
def test_delete_asks_on_a_terminal_and_needs_yes_otherwise(kaiwa: Kaiwa) -> None:
    put(kaiwa, export_doc(A, "terraform state lock", "why is my state locked?", "A lock."))
    put(kaiwa, export_doc(B, "pasta for four", "how much pasta?", "About 400 g."))
    assert_one_line_failure(kaiwa("sessions", "delete", "0aaaa001"), 2, "--yes")
    assert len(listed(kaiwa)) == 2

    term = Term(kaiwa, "sessions", "delete", "0aaaa001", "0aaaa002")
    try:
        shown = term.wait_for("Delete these 2 sessions? This cannot be undone [y/N]")
        assert "terraform state lock" in shown and "pasta for four" in shown
        term.wait_for(" y delete ")  # the toolbar: the question listens
        term.send("n")
        assert term.exit_status() == 0  # declining is the user's answer, not a failure: said plainly, exit 0
    finally:
        term.close()
    assert "nothing deleted" in term.text and "error" not in term.text
    assert len(listed(kaiwa)) == 2

    term = Term(kaiwa, "sessions", "delete", "aaaa001")
    try:
        term.wait_for("Delete this session? This cannot be undone [y/N]")
        term.wait_for(" y delete ")
        term.send("y")
        assert term.exit_status() == 0
    finally:
        term.close()
    assert "deleted 1 session" in term.text
    assert [s["id"] for s in listed(kaiwa)] == [B]


def test_keys_typed_before_delete_asks_do_not_answer(kaiwa: Kaiwa) -> None:
    # `y` and Enter typed before the question appears (a command line pasted with its answer, a key pressed too
    # early) must not confirm: only a key pressed once the question listens does.
    put(kaiwa, export_doc(A, "terraform state lock", "why is my state locked?", "A lock."))
    term = Term(kaiwa, "sessions", "delete", "0aaaa001")
    try:
        term.send("y\r")
        term.wait_for("Delete this session? This cannot be undone [y/N]")
        term.wait_for(" y delete ")
        assert [s["id"] for s in listed(kaiwa)] == [A]  # nothing deleted by the keys typed ahead
        term.send("n")
        assert term.exit_status() == 0
    finally:
        term.close()
    assert "nothing deleted" in term.text
    assert [s["id"] for s in listed(kaiwa)] == [A]


# -- long conversations ------------------------------------------------------------------------------------------
def test_context_window_then_compact_continues_with_the_summary(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="Use a remote backend with locking."), Reply(text="DynamoDB holds the lock."))
    sid = kaiwa("--input", "terraform state for a team?").session_id
    assert sid and kaiwa("--input", "where is the lock kept?", "--session-id", sid).code == 0
    upstream.script(context_window_reply())
    failed = kaiwa("--input", "a very long paste", "--session-id", sid)
    assert_one_line_failure(failed, 1, "no longer fits", "/compact")

    summary = "We set up a remote backend; the lock lives in DynamoDB."
    upstream.script(context_window_reply(), Reply(text=summary))  # the whole history does not fit: halve it
    compacted = kaiwa("sessions", "compact", sid[-8:])
    assert compacted.code == 0, compacted.err
    new = compacted.session_id
    assert new and new != sid and compacted.out == summary + "\n"
    assert "summarising its last 1 turn" in compacted.err
    asked = upstream.model_requests()[-1].body["messages"]
    prompt = text_of(asked[-1])
    assert "## You\n\nwhere is the lock kept?" in prompt and "## You\n\nterraform state for a team?" not in prompt
    assert "Summarise our conversation so far" in prompt

    upstream.script(Reply(text="Then run force-unlock."))
    go_on = kaiwa("--input", "a very long paste", "--session-id", new)
    assert go_on.code == 0, go_on.err
    sent = upstream.model_requests()[-1].body["messages"]
    assert [
        (m["role"], m["content"] if isinstance(m["content"], str) else m["content"][0]["text"])
        for m in sent
        if m["role"] != "system"
    ] == [
        ("user", "Summarise our conversation so far, so that we can continue it in a new session."),
        ("assistant", summary),
        ("user", "a very long paste"),
    ]
    shown = json.loads(kaiwa("sessions", "show", new, "--json").out)
    assert shown["origin"] == f"compacted from {sid}"
    assert "compacted from" in kaiwa("sessions", "show", new).out
    assert len(stored_items(kaiwa.db, sid)) == 4  # the original is kept

    upstream.script(Reply(text="Short summary."))
    as_json = json.loads(kaiwa("sessions", "compact", sid, "--json").out)
    assert as_json["summary"] == "Short summary." and as_json["origin"] == f"compacted from {sid}"


# -- cost ------------------------------------------------------------------------------------------------------
def test_sessions_list_imports_no_sdk_openai_prompt_toolkit_or_sqlalchemy(kaiwa: Kaiwa) -> None:
    put(kaiwa, export_doc(A, "terraform state lock", "why is my state locked?", "A lock."))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(CHAT), "sessions", "list"],
        capture_output=True,
        text=True,
        cwd=kaiwa.home,
        env=kaiwa.env,
        timeout=60,
    )
    assert proc.returncode == 0 and A in proc.stdout, proc.stderr[-2000:]
    modules = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "kaiwa" in modules
    assert not modules & {"agents", "openai", "prompt_toolkit", "sqlalchemy", "httpx2", "litellm"}, sorted(modules)


def test_continue_and_a_short_id_open_the_interactive_mode_on_that_session(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    from tests.harness.term import Term, session_id_in

    first = kaiwa("--input", "the older topic").session_id
    latest = kaiwa("--input", "the latest topic").session_id
    assert first and latest
    term = Term(kaiwa, "-c")
    try:
        term.ready()
        assert "the latest topic" in term.text  # the greeting says which session it resumed
        term.enter("/exit")
        assert term.exit_status() == 0
        assert session_id_in(term.text) == latest
    finally:
        term.close()
    term = Term(kaiwa, "--session-id", first[-8:])
    try:
        term.ready()
        assert "the older topic" in term.text
        upstream.script(Reply(text="more on the older one"))
        term.turn("go on")
        assert user_texts(upstream.model_requests()[-1].body) == ["the older topic", "go on"]
        term.enter("/exit")
        assert term.exit_status() == 0
    finally:
        term.close()
