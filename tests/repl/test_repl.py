"""The interactive mode in a real pseudo-terminal, through the real LiteLLM proxy and the OpenAI-compatible
stand-in (which records what the upstream received)."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import time
from pathlib import Path

import pytest

from tests.conftest import Kaiwa
from tests.harness.bodies import said
from tests.harness.db import stored_texts
from tests.harness.term import PASTE_END, PASTE_START, Term, session_id_in
from tests.mcp_fixtures import stdio_server_config
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply


def system_text(body: dict) -> str:
    [system] = [m for m in body["messages"] if m["role"] == "system"]
    content = system["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def test_two_turns_send_the_whole_history_and_ctrl_d_leaves(
    term: Term, kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    upstream.script(Reply(text="first answer"), Reply(text="second answer"))
    term.ready()
    assert "fake-a" in term.text and "new session" in term.text
    assert "first answer" in term.turn("one")
    assert "second answer" in term.turn("two")
    term.wait_for("fake-a · one · 2 turns")  # the toolbar: model · title · turns · tokens · cost
    last = upstream.model_requests()[-1].body
    assert said(last["messages"]) == [("user", "one"), ("assistant", "first answer"), ("user", "two")]
    term.mark()
    term.ctrl("d")
    assert term.exit_status() == 0
    sid = session_id_in(term.since_mark())
    assert sid is not None and stored_texts(kaiwa.db, sid)[-1] == ("assistant", "second answer")
    history = kaiwa.home / "state" / "repl-history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert "one" in history.read_text() and "two" in history.read_text()


def test_model_switching(term: Term, upstream: OpenAIChatStandIn) -> None:
    term.ready()
    term.turn("on a")
    term.enter("/model")
    listing = term.after("fake-b")
    assert "* fake-a" in listing
    term.enter("/model no-such-alias")
    assert "no model alias 'no-such-alias'" in term.after("use one of")
    term.enter("/model fake-b")
    term.after("from the next turn on")
    assert "fake-b ·" in term.turn("on b")
    assert [r.body["model"] for r in upstream.model_requests()] == ["fake-a-upstream", "fake-b-upstream"]


def test_ctrl_c_cancels_the_stream_and_leaves_no_trace(term: Term, kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(text="kept answer"),
        Reply(text="slow " * 60, chunks=60, chunk_delay=0.2),  # 12 s: cancelled after the first words
        Reply(text="after the cancel"),
    )
    term.ready()
    term.turn("keep me")
    term.enter("cancel me please")
    term.wait_for("slow slow")
    began = time.monotonic()
    term.ctrl("c")
    term.wait_for("your message is back on the input line")
    assert time.monotonic() - began < 3
    term.wait_for(re.compile(r"back on the input line(.|\n)*› cancel me please"))
    term.ctrl("c")  # clears the line; a single Ctrl-C never leaves
    time.sleep(0.3)
    assert term.child.isalive()
    assert "after the cancel" in term.turn("fresh message")
    last = upstream.model_requests()[-1].body
    assert said(last["messages"]) == [("user", "keep me"), ("assistant", "kept answer"), ("user", "fresh message")]
    term.enter("/exit")
    assert term.exit_status() == 0
    sid = session_id_in(term.text)
    assert sid is not None
    assert [text for _, text in stored_texts(kaiwa.db, sid)] == [
        "keep me",
        "kept answer",
        "fresh message",
        "after the cancel",
    ]


def test_a_failed_turn_keeps_the_repl_and_the_message(term: Term, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(status=400, error_message="the stand-in refuses this"), Reply(text="fine now"))
    term.ready()
    term.enter("doomed message")
    screen = term.wait_for("error: ")
    errors = [line for line in screen.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in screen
    term.wait_for("› doomed message")  # the message is back on the input line
    term.mark()
    term.send("\r")  # Enter resends it
    assert "fine now" in term.wait_for(" in · ")
    assert said(upstream.model_requests()[-1].body["messages"]) == [("user", "doomed message")]


def test_a_bracketed_paste_is_one_message(term: Term, upstream: OpenAIChatStandIn) -> None:
    page = "line one\nline two\n\nline four after a blank"
    term.ready()
    term.mark()
    term.send(PASTE_START + page + PASTE_END)
    time.sleep(0.3)
    assert not upstream.model_requests()  # nothing sent line by line
    term.enter("")
    term.wait_for(" in · ")
    [request] = upstream.model_requests()
    assert said(request.body["messages"]) == [("user", page)]


def test_alt_enter_inserts_a_newline(term: Term, upstream: OpenAIChatStandIn) -> None:
    term.ready()
    term.send("first line")
    term.send("\x1b\r")  # Alt-Enter (Esc then Enter)
    term.turn("second line")
    assert said(upstream.model_requests()[-1].body["messages"]) == [("user", "first line\nsecond line")]


def test_unknown_command_and_double_slash(term: Term, upstream: OpenAIChatStandIn) -> None:
    term.ready()
    term.enter("/usgae")
    assert "did you mean /usage?" in term.after("did you mean")
    assert not upstream.model_requests()
    term.turn("//etc/hosts is a path")
    assert said(upstream.model_requests()[-1].body["messages"]) == [("user", "/etc/hosts is a path")]


def test_system_retry_undo_fork_across_a_resume(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="arr, one"), Reply(text="arr, two"))
    first = Term(kaiwa)
    try:
        first.ready()
        first.enter("/system Answer like a pirate.")
        first.after("instructions set")
        first.turn("one")
        first.turn("two")
        first.enter("/exit")
        assert first.exit_status() == 0
        sid = session_id_in(first.text)
        assert sid
    finally:
        first.close()
    assert system_text(upstream.model_requests()[-1].body) == "Answer like a pirate."

    upstream.reset()
    upstream.script(Reply(text="retried two"), Reply(text="answer three"), Reply(text="forked four"))
    term = Term(kaiwa, "--session-id", sid)
    try:
        term.ready()
        term.after("arr, two")  # where the session stands: the last answer's first lines
        term.enter("/system")
        term.after("Answer like a pirate.")
        assert "retried two" in term.turn("/retry")
        body = upstream.model_requests()[-1].body
        assert system_text(body) == "Answer like a pirate."
        assert said(body["messages"]) == [("user", "one"), ("assistant", "arr, one"), ("user", "two")]
        assert [t for _, t in stored_texts(kaiwa.db, sid)] == ["one", "arr, one", "two", "retried two"]
        term.enter("/undo")
        # /undo puts "two" back on the input line: wait until it is drawn there, then drop it with Ctrl-C
        term.wait_for(re.compile(r"removed the last exchange(.|\n)*›\s*two"))
        assert [t for _, t in stored_texts(kaiwa.db, sid)] == ["one", "arr, one"]
        term.ctrl("c")
        term.turn("three")
        assert said(upstream.model_requests()[-1].body["messages"])[-1] == ("user", "three")
        term.enter("/fork")
        screen = term.after("forked: now in")
        assert "which stays as it was" in screen
        term.turn("four")
        term.enter("/exit")
        assert term.exit_status() == 0
        fork_id = session_id_in(term.since_mark())
    finally:
        term.close()
    assert fork_id and fork_id != sid
    assert [t for _, t in stored_texts(kaiwa.db, sid)] == ["one", "arr, one", "three", "answer three"]  # untouched
    assert [t for _, t in stored_texts(kaiwa.db, fork_id)] == [
        "one",
        "arr, one",
        "three",
        "answer three",
        "four",
        "forked four",
    ]
    assert system_text(upstream.model_requests()[-1].body) == "Answer like a pirate."  # the fork keeps them


def _mcp_env(kaiwa: Kaiwa, tmp_path: Path) -> tuple[dict[str, str], Path]:
    pid_file = tmp_path / "mcp.pid"
    config = tmp_path / "mcp.json"
    server = stdio_server_config(env={"KAIWA_FIXTURE_PID_FILE": str(pid_file)})
    config.write_text(json.dumps({"mcpServers": {"words": server}}))
    return {"KAIWA_MCP_CONFIG": str(config)}, pid_file


def _gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("way_out", ["/exit", "ctrl-d", "sigterm", "sighup"])
def test_no_mcp_server_is_left_after_any_way_out(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, way_out: str
) -> None:
    env, pid_file = _mcp_env(kaiwa, tmp_path)
    term = Term(kaiwa, **env)
    try:
        term.ready()
        pid = int(pid_file.read_text())
        term.turn("hello")
        term.mark()
        if way_out == "/exit":
            term.enter("/exit")
        elif way_out == "ctrl-d":
            term.ctrl("d")
        else:
            term.kill(signal.SIGTERM if way_out == "sigterm" else signal.SIGHUP)
        code = term.exit_status()
        expected = {"/exit": 0, "ctrl-d": 0, "sigterm": 128 + signal.SIGTERM, "sighup": 128 + signal.SIGHUP}
        assert code == expected[way_out], term.since_mark()
        if way_out in ("/exit", "ctrl-d", "sigterm"):
            assert session_id_in(term.since_mark())
    finally:
        term.close()
    assert _gone(pid), f"MCP server {pid} still running after {way_out}"


def test_tools_lists_builtin_and_mcp(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    env, _ = _mcp_env(kaiwa, tmp_path)
    term = Term(kaiwa, **env)
    try:
        term.ready()
        term.enter("/tools")
        screen = term.after("lookup_word")
        assert "current_time" in screen and "calculate" in screen and "MCP words" in screen
    finally:
        term.close()


def test_continue_the_latest_session_and_compact_it(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    first = kaiwa("--input", "remember the word ramune")
    assert first.code == 0 and first.session_id, first.err
    upstream.script(Reply(text="Summary: the user asked to remember ramune."), Reply(text="ramune, yes"))
    term = Term(kaiwa, "-c")
    try:
        term.ready()
        term.after(f"resumed {first.session_id[-8:]}")
        term.enter("/compact")
        term.after("compacted: now in")
        term.turn("which word?")
        body = upstream.model_requests()[-1].body
        assert ("assistant", "Summary: the user asked to remember ramune.") in said(body["messages"])
        assert all("remember the word" not in text for _, text in said(body["messages"]))  # the summary stands for it
        term.enter("/exit")
        assert term.exit_status() == 0
        new_id = session_id_in(term.since_mark())
    finally:
        term.close()
    assert new_id and new_id != first.session_id
    assert [t for _, t in stored_texts(kaiwa.db, first.session_id)] == ["remember the word ramune", "ok"]  # kept


def test_edit_and_ctrl_x_ctrl_e_write_the_message_in_the_editor(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.py"  # an "editor" that appends a line to the file it is given, as a user would
    editor.write_text(
        "import sys\n"
        "path = sys.argv[1]\n"
        "text = open(path).read()\n"
        "open(path, 'w').write(text + ('\\n' if text else '') + 'written in the editor\\nsecond line\\n')\n"
    )
    import sys

    term = Term(kaiwa, EDITOR=f"{sys.executable} {editor}", VISUAL="")
    try:
        term.ready()
        term.enter("/edit")
        term.wait_for("› written in the editor")
        term.mark()
        term.send("\r")
        term.after(" in · ")
        assert said(upstream.model_requests()[-1].body["messages"])[-1] == (
            "user",
            "written in the editor\nsecond line",
        )
        term.send("typed first")
        term.mark()
        term.ctrl("x")
        term.ctrl("e")
        term.wait_for("written in the editor")
        time.sleep(0.5)
        assert len(upstream.model_requests()) == 1  # back on the line to review, as /edit leaves it: not sent
        term.send("\r")
        term.wait_for(" in · ")
        assert said(upstream.model_requests()[-1].body["messages"])[-1] == (
            "user",
            "typed first\nwritten in the editor\nsecond line",
        )
    finally:
        term.close()


def test_keys_typed_while_an_answer_streams_wait_for_the_next_prompt(term: Term, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="word " * 20, chunks=20, chunk_delay=0.1))
    term.ready()
    term.enter("stream please")
    term.wait_for("word word")
    term.send("typed ahead")
    screen = term.wait_for(re.compile(r" in · (.|\n)*›\s*typed ahead"))
    answer_part = screen.split(" in · ")[0]
    assert "typed ahead" not in answer_part  # not echoed into the answer


def test_attach_adds_files_to_the_next_message_only(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    (kaiwa.home / "notes.txt").write_text("the secret word is petrichor\n")
    (kaiwa.home / "more.txt").write_text("and the colour is teal\n")
    term = Term(kaiwa, "-a", "more.txt")
    try:
        term.ready()
        assert "attached more.txt" in term.text  # -a on the command line: for the first message
        term.enter("/attach missing.txt")
        assert "cannot attach missing.txt: no such file" in term.after("error:")
        term.enter("/attach notes.txt")
        term.after("attached notes.txt")
        term.wait_for("2 attached")  # the toolbar counts them
        term.turn("what do the files say?")
        [(role, text)] = said(upstream.model_requests()[-1].body["messages"])
        assert role == "user" and text.startswith("what do the files say?")
        assert "petrichor" in text and "teal" in text and "notes.txt" in text
        term.turn("and now?")  # sent without them
        last = said(upstream.model_requests()[-1].body["messages"])
        assert last[-1] == ("user", "and now?") and "petrichor" in last[0][1]  # stored with the session
    finally:
        term.close()
