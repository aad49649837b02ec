"""Tool approvals (issue 19) end to end: chat.py (REPL in a real pseudo-terminal, one-shot piped and on a
terminal, --json) → the real LiteLLM proxy → the OpenAI-compatible stand-in, scripted to call `git_add` of a real
`mcp-server-git` on a temporary repository. Whether the call ran is read from git (`staged`), what the model was
told from the upstream's requests, and what was kept from the SQLite file."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kaiwa
from tests.harness.approvals import REJECTED, with_git
from tests.harness.db import stored_items
from tests.harness.term import session_id_in
from tests.mcp_fixtures import stdio_server_config
from tests.mcp_fixtures.git import git_repo, git_server_config, staged
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

QUESTION = "[y/a/n/v]"
LISTENING = "waiting for your answer"  # the toolbar, once the question takes an answer (ui/ask.py)
AFTER_TURN = re.compile(r" in · (.|\n)*›")  # the usage line, then the input line again


def add(repo: Path, name: str, call_id: str) -> Reply:
    return Reply(text="", tool_calls=[ToolCall("git_add", {"repo_path": str(repo), "files": [name]}, id=call_id)])


def tool_messages(upstream: OpenAIChatStandIn) -> list[str]:
    """What the model was told of each tool call, in the last request."""
    messages = upstream.model_requests()[-1].body["messages"]
    return [m["content"] if isinstance(m["content"], str) else json.dumps(m["content"]) for m in messages
            if m["role"] == "tool"]  # fmt: skip


def outputs(items: list[dict[str, Any]]) -> dict[str, str]:
    return {i["call_id"]: json.dumps(i["output"]) for i in items if i.get("type") == "function_call_output"}


# -- the interactive mode --------------------------------------------------------------------------------------


def test_repl_y_runs_the_call_after_asking(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_y"), Reply(text="staged a.txt"))
    term = term_for()
    term.ready()
    term.enter("stage a.txt")
    asked = term.wait_for(QUESTION)
    line = next(line for line in asked.splitlines() if QUESTION in line)
    assert "git/git_add" in line and "a.txt" in line  # one line: the tool, its server, its arguments
    term.wait_for(LISTENING)  # the toolbar
    assert staged(repo) == []  # nothing ran before the answer
    term.mark()
    term.send("y")
    assert "staged a.txt" in term.wait_for(AFTER_TURN)
    assert staged(repo) == ["a.txt"]
    assert "staged successfully" in tool_messages(upstream)[0]


def test_repl_n_declines_and_the_model_is_told(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_n"), Reply(text="I did not stage it."))
    term = term_for()
    term.ready()
    term.enter("stage a.txt")
    term.wait_for(LISTENING)
    term.mark()
    term.send("n")
    assert "I did not stage it." in term.wait_for(AFTER_TURN)
    assert staged(repo) == []
    assert tool_messages(upstream) == [REJECTED]
    assert outputs(stored_items(kaiwa.db)) == {"call_n": json.dumps(REJECTED)}  # the call is stored with its output


def test_repl_a_allows_the_tool_for_the_rest_of_the_session(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_a1"), Reply(text="one"), add(repo, "b.txt", "call_a2"), Reply(text="two"))
    term = term_for()
    term.ready()
    term.enter("stage a.txt")
    term.wait_for(LISTENING)
    term.mark()
    term.send("a")
    term.wait_for(AFTER_TURN)
    assert staged(repo) == ["a.txt"]
    screen = term.turn("and b.txt")  # no question this time
    assert QUESTION not in screen and "two" in screen
    assert staged(repo) == ["a.txt", "b.txt"]


def test_repl_a_does_not_outlive_its_session(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    # `a` allows a tool "for the rest of the session": /new (or /resume) is another one, which asks again.
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_s1"), Reply(text="one"), add(repo, "b.txt", "call_s2"), Reply(text="two"))
    term = term_for()
    term.ready()
    term.enter("stage a.txt")
    term.wait_for(LISTENING)
    term.mark()
    term.send("a")
    term.wait_for(AFTER_TURN)
    assert staged(repo) == ["a.txt"]
    term.enter("/new")
    term.mark()
    term.enter("and b.txt")
    term.wait_for(LISTENING)
    assert staged(repo) == ["a.txt"]
    term.mark()
    term.send("n")
    term.wait_for(AFTER_TURN)
    assert staged(repo) == ["a.txt"]


def test_tools_says_what_each_tool_does_when_called(kaiwa: Kaiwa, tmp_path: Path, term_for: Any) -> None:
    with_git(kaiwa, tmp_path, deny=["git_add"], allow=["git_status"])
    term = term_for("--approve", "git_diff")
    term.ready()
    term.enter("/tools")
    screen = term.wait_for(re.compile(r"git_log[^\n]*\n"))
    rows = {line.split()[0]: line for line in screen.splitlines() if " · " in line and line.startswith("  ")}
    assert "built-in · runs" in rows["calculate"]
    assert "declined (denied in mcp.json)" in rows["git_add"]
    assert "runs (allowed in mcp.json)" in rows["git_status"]
    assert "runs (--approve)" in rows["git_diff"]
    assert "asks first" in rows["git_log"]


def test_repl_ctrl_c_at_the_question_stops_the_turn_and_stores_nothing(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_c"), add(repo, "a.txt", "call_c2"), Reply(text="declined"))
    term = term_for()
    term.ready()
    term.enter("stage a.txt")
    term.wait_for(LISTENING)
    term.mark()
    term.ctrl("c")
    assert "nothing of this turn was saved" in term.wait_for(re.compile(r"interrupted(.|\n)*› stage a.txt"))
    assert staged(repo) == [] and stored_items(kaiwa.db) == []
    assert len(upstream.model_requests()) == 1  # the run did not go on
    term.mark()
    term.send("\r")  # the message is back on the input line: Enter sends it again, and it asks again
    term.wait_for(LISTENING)
    term.mark()
    term.send("n")
    term.wait_for(AFTER_TURN)
    assert staged(repo) == [] and [i.get("role") for i in stored_items(kaiwa.db)][:1] == ["user"]
    term.enter("/exit")
    assert term.exit_status() == 0


def test_a_process_killed_at_the_question_stores_nothing(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(Reply(text="first"), add(repo, "a.txt", "call_k"), Reply(text="never"))
    term = term_for()
    term.ready()
    term.turn("hello")
    term.enter("stage a.txt")
    term.wait_for(LISTENING)
    term.kill(signal.SIGKILL)
    assert term.exit_status() == 128 + signal.SIGKILL
    items = stored_items(kaiwa.db)
    assert [i.get("role") for i in items] == ["user", "assistant"]  # the first turn, whole; nothing of the second
    assert staged(repo) == []


# -- one-shot ---------------------------------------------------------------------------------------------------


def test_piped_one_shot_declines_with_one_line_saying_how_to_allow(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_p"), Reply(text="It was declined."))
    run = kaiwa("--input", "stage a.txt")
    assert run.code == 0, run.err
    assert run.out == "It was declined.\n"
    [line] = [line for line in run.err.splitlines() if "declined" in line]
    assert "git/git_add" in line and "--approve git/git_add" in line
    assert staged(repo) == []
    assert tool_messages(upstream) == [REJECTED]
    assert outputs(stored_items(kaiwa.db)) == {"call_p": json.dumps(REJECTED)}


def test_the_declined_lines_hint_is_a_command_that_can_be_pasted(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    # A server's name is any JSON key: the hint quotes it as a shell word (unquoted, `; rm -rf ~` would run).
    repo = git_repo(tmp_path / "repo", "a.txt")
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"my git; rm -rf ~": git_server_config(repo)}}), encoding="utf-8")
    kaiwa.env["KAIWA_MCP_CONFIG"] = str(config)
    upstream.script(add(repo, "a.txt", "call_q"), Reply(text="Declined."))
    run = kaiwa("--input", "stage a.txt")
    assert run.code == 0, run.err
    [line] = [line for line in run.err.splitlines() if "declined" in line]
    assert line.endswith("allow it with --approve 'my git; rm -rf ~/git_add'"), line
    assert staged(repo) == []


def test_a_tool_name_taken_earlier_is_left_out_in_one_line(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    # One rule for every clash: the first to claim a name keeps it (built-in tools, then servers in the config's
    # order); a later tool of that name is left out, and one line per server says so. kaiwa goes on.
    repo = git_repo(tmp_path / "repo", "a.txt")
    config = tmp_path / "mcp.json"
    servers = {
        "g1": git_server_config(repo, approve="always"),
        "g2": git_server_config(repo),
        "words": stdio_server_config("--calculate"),
    }
    config.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    kaiwa.env["KAIWA_MCP_CONFIG"] = str(config)
    upstream.script(
        add(repo, "a.txt", "call_g"),
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "6*7"}, id="call_c")]),
        Reply(text="done"),
    )
    run = kaiwa("--input", "stage a.txt, then work out 6*7")
    assert run.code == 0 and "Traceback" not in run.err, run.err
    assert staged(repo) == ["a.txt"]  # g1's git_add ran, as g1's rule says, with no question
    told = tool_messages(upstream)
    assert "staged successfully" in told[0] and told[1] == "42"  # kaiwa's calculator, not the server's
    [g2] = [line for line in run.err.splitlines() if "MCP server 'g2'" in line]
    assert "tools 'git_status'" in g2 and "left out — MCP server 'g1', earlier in the MCP config" in g2
    assert '"disabled": true' in g2
    [words] = [line for line in run.err.splitlines() if "MCP server 'words'" in line]
    assert "its tool 'calculate' left out — kaiwa's built-in tool has that name" in words
    sent = {tool["function"]["name"] for tool in upstream.model_requests()[0].body["tools"]}
    assert "calculate" in sent and "lookup_word" in sent and "git_add" in sent


@pytest.mark.parametrize("name", ["git/git_add", "git_add", "all"])
def test_approve_lets_the_call_run(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, name: str) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_ok"), Reply(text="Staged."))
    run = kaiwa("--input", "stage a.txt", "--approve", name)
    assert run.code == 0, run.err
    assert "declined" not in run.err and staged(repo) == ["a.txt"]
    assert "staged successfully" in tool_messages(upstream)[0]


def test_approve_does_not_override_a_deny_in_the_config(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    repo = with_git(kaiwa, tmp_path, deny=["git_add"])
    upstream.script(add(repo, "a.txt", "call_d"), Reply(text="Denied."))
    run = kaiwa("--input", "stage a.txt", "--approve", "all")
    assert run.code == 0, run.err
    [line] = [line for line in run.err.splitlines() if "declined" in line]
    assert "denied in mcp.json" in line
    assert staged(repo) == [] and tool_messages(upstream) == [REJECTED]


def test_a_bad_approve_name_is_one_line(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    with_git(kaiwa, tmp_path)
    run = kaiwa("--input", "hi", "--approve", "git/")
    assert run.code == 2 and "Traceback" not in run.err
    assert [line for line in run.err.splitlines() if line.startswith("error:")] == [
        "error: --approve 'git/' is not a tool name — give TOOL, SERVER/TOOL or all"
    ]
    assert upstream.model_requests() == []


def test_json_carries_approval_events(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_j"), Reply(text="ok"))
    run = kaiwa("--input", "stage a.txt", "--json")
    assert run.code == 0, run.err
    events = [json.loads(line) for line in run.out.splitlines()]
    approvals = [e for e in events if e["type"] == "approval"]
    assert approvals == [
        {
            "type": "approval",
            "state": "requested",
            "call_id": "call_j",
            "server": "git",
            "tool": "git_add",
            "arguments": {"repo_path": str(repo), "files": ["a.txt"]},
            "read_only": False,
        },
        {
            "type": "approval",
            "state": "decided",
            "call_id": "call_j",
            "server": "git",
            "tool": "git_add",
            "decision": "decline",
            "by": "no terminal to ask on",
        },
    ]
    kinds = [e["type"] for e in events]
    assert kinds.index("tool_call") < kinds.index("approval") < kinds.index("tool_result") < kinds.index("done")
    assert staged(repo) == []


def test_one_shot_on_a_terminal_asks_on_stderr(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_t"), Reply(text="Staged on a terminal."))
    term = term_for("--input", "stage a.txt")
    assert "git/git_add" in term.wait_for(QUESTION)
    term.wait_for(LISTENING)
    assert staged(repo) == []
    term.mark()
    term.send("y")
    term.wait_for("Staged on a terminal.")
    assert term.exit_status() == 0
    assert staged(repo) == ["a.txt"]
    assert session_id_in(term.text) is not None
    assert "staged successfully" in tool_messages(upstream)[0]


def test_ctrl_c_at_the_one_shot_question_stops_and_stores_nothing(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path, term_for: Any
) -> None:
    repo = with_git(kaiwa, tmp_path)
    upstream.script(add(repo, "a.txt", "call_s"), Reply(text="never"))
    term = term_for("--input", "stage a.txt")
    term.wait_for(QUESTION)  # Ctrl-C is never held back: stopping is always safe
    term.ctrl("c")
    assert term.exit_status() == 130, term.text
    assert "Traceback" not in term.text and "interrupted" in term.text
    assert staged(repo) == [] and stored_items(kaiwa.db) == []
    assert len(upstream.model_requests()) == 1
