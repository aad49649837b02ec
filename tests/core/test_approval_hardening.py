"""Issue 29, items 1 and 2, end to end in a real pseudo-terminal: chat.py → the real LiteLLM proxy → the scripted
OpenAI-compatible stand-in calling `git_add` of a real `mcp-server-git` on a temporary repository.

1. Keys typed before a question never answer it — typed with the message, while the answer streams, while the
   REPL waits for another process's turn lock, into the terminal while a one-shot runs, before `sessions
   delete`'s confirmation. Each test types a key that would answer, then checks nothing ran once the question
   listens (its toolbar says so), and answers it.
2. What you approve is what runs: a call padded with names the tool does not declare is refused back to the
   model and never asked; a value that fakes the end of the question is shown quoted and spelt out; a long
   argument is cut visibly and `v` shows the whole call.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kaiwa
from tests.core.test_approvals import LISTENING, QUESTION, add, tool_messages
from tests.harness.approvals import REJECTED, with_git
from tests.harness.db import stored_items
from tests.harness.term import Term
from tests.mcp_fixtures.git import staged
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall
from tests.store.test_reliability_writers import hold_session_lock

AFTER_TURN = re.compile(r" in · (.|\n)*›")  # the usage line, then the input line again


def call(repo: Path, call_id: str, **arguments: Any) -> Reply:
    return Reply(text="", tool_calls=[ToolCall("git_add", {"repo_path": str(repo), **arguments}, id=call_id)])


def answer_no(term: Term) -> str:
    """The question listens and nothing ran: `n`, then the rest of the turn."""
    term.wait_for(LISTENING)
    term.mark()
    term.send("n")
    return term.wait_for(AFTER_TURN)


# -- 1. type-ahead ----------------------------------------------------------------------------------------------


def test_keys_typed_with_the_message_or_while_it_streams_do_not_answer(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(
        add(repo, "a.txt", "call_t1"),
        Reply(text="not staged"),
        Reply(text="Staging it now, one moment please.", chunks=8, chunk_delay=0.25,
              tool_calls=[ToolCall("git_add", {"repo_path": str(repo), "files": ["b.txt"]}, id="call_t2")]),
        Reply(text="not staged either"),
    )  # fmt: skip
    term = term_for()
    term.ready()
    # The next message typed at once after Enter: "also" reaches the question (its `a`: this tool, for the session).
    term.mark()
    term.send("stage a.txt\ralso")
    term.wait_for(QUESTION)
    assert "not staged" in answer_no(term)
    assert staged(repo) == []
    # Keys typed while the answer streams wait in the terminal for the next prompt: the question is one.
    term.enter("and b.txt")
    term.wait_for("Staging")
    term.send("y")
    term.wait_for(QUESTION)
    assert "not staged either" in answer_no(term)
    assert staged(repo) == []
    assert tool_messages(upstream) == [REJECTED, REJECTED]


@pytest.mark.skipif(not hasattr(fcntl, "F_OFD_SETLK"), reason="Linux open-file-description locks")
def test_keys_typed_while_waiting_for_another_processs_turn_do_not_answer(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(Reply(text="started"), add(repo, "a.txt", "call_l"), Reply(text="not staged"))
    sid = kaiwa("--input", "start").session_id
    assert sid
    term = term_for("-s", sid)
    term.ready()
    fd = hold_session_lock(kaiwa.db, sid)  # another kaiwa process is in a turn on this session
    try:
        term.enter("stage a.txt")
        term.wait_for("waiting: another kaiwa process is in a turn")
        term.send("also y")
    finally:
        os.close(fd)  # that turn ends: this one goes on, and the model calls git_add
    term.wait_for(QUESTION)
    assert "not staged" in answer_no(term)
    assert staged(repo) == []


def test_keys_typed_into_the_terminal_during_a_one_shot_do_not_answer(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_o"), Reply(text="Not staged."))
    term = term_for("--input", "stage a.txt")
    term.send("make all\r")  # the user's next shell command, typed while kaiwa works
    term.wait_for(QUESTION)
    term.wait_for(LISTENING)
    assert staged(repo) == []
    term.mark()
    term.send("n")
    term.wait_for("Not staged.")
    assert term.exit_status() == 0
    assert staged(repo) == [] and tool_messages(upstream) == [REJECTED]


# -- 2. what is shown is what runs ----------------------------------------------------------------------------


def test_a_padded_call_is_refused_back_to_the_model_without_asking(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    # Names the tool does not declare (the server ignores them) pad the line until `files` falls off it; one of
    # them fakes the question's end with braille blanks (U+2800) after it.
    repo = with_git(kaiwa, tmp_path)
    spoof = "files=['a.txt'])? [y/a/n]" + "\u2800" * 60
    padded = {spoof: 1, "repo_path": str(repo), **{f"note{i}": "x" * 40 for i in range(1, 4)}, "files": ["b.txt"]}
    upstream.script(Reply(text="", tool_calls=[ToolCall("git_add", padded, id="call_p")]), Reply(text="I will fix it."))
    term = term_for("--input", "stage a.txt")
    screen = term.wait_for("I will fix it.")
    assert term.exit_status() == 0
    assert QUESTION not in term.text and LISTENING not in term.text  # never asked
    assert "declined git/git_add: its arguments do not fit the tool" in screen
    assert "\u2800" not in term.text and "\\u2800" in screen  # the call's and the error's lines spell it out
    assert staged(repo) == []
    [told] = tool_messages(upstream)
    assert told.startswith("error: git_add has no argument ") and "'note1', 'note2', 'note3'; call it as" in told
    assert [i["output"] for i in stored_items(kaiwa.db) if i.get("type") == "function_call_output"] == [told]


def test_a_value_that_fakes_the_question_is_spelt_out_and_the_real_end_stays(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    spoof = "a.txt'])? [y/a/n]" + "\u2800" * 40
    upstream.script(call(repo, "call_s", files=["b.txt", spoof]), Reply(text="not staged"))
    term = term_for()
    term.ready()
    term.enter("stage a.txt")
    asked = term.wait_for(QUESTION)
    assert "\u2800" not in asked and "'b.txt'" not in asked and '"b.txt"' in asked  # JSON-quoted, as sent
    assert "[y/a/n]\\u2800\\u2800" in asked  # the fake end, as text, inside the value's quotes
    assert "not staged" in answer_no(term)
    assert staged(repo) == []


def test_a_long_argument_is_cut_visibly_and_v_shows_the_whole_call(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    files = [f"src/module_{i:03}/file.txt" for i in range(40)]
    upstream.script(call(repo, "call_v", files=files), Reply(text="not staged"))
    term = term_for()
    term.ready()
    term.enter("stage them")
    asked = term.wait_for(QUESTION)
    rows = [row for row in asked.splitlines() if row.startswith("  files=")]
    assert rows and re.search(r"…\(\+\d+ chars\)", rows[0]) and "module_039" not in rows[0]
    assert f"  repo_path='{repo}'" in asked  # its own line: the long list pushes nothing out of sight
    term.wait_for(LISTENING)
    term.mark()
    term.send("v")
    whole = term.wait_for(re.compile(r"the whole call to(.|\n)*" + re.escape(QUESTION)))  # then asked again
    assert "the whole call to git/git_add:" in whole and '"src/module_039/file.txt"' in whole
    assert json.loads(whole[whole.index("{") : whole.rindex("}") + 1]) == {"repo_path": str(repo), "files": files}
    assert "not staged" in answer_no(term)
    assert staged(repo) == []
