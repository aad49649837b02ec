"""Agent powers (issue 5) end to end: chat.py as a subprocess, the REAL LiteLLM proxy, a scripted
OpenAI-compatible upstream (Chat Completions, strict about tool messages) behind the fake-a/fake-b aliases.

Tools (built-in and MCP over stdio and streamable HTTP), tool calls stored and replayed, reasoning shown and
replayed, usage and cost against what the upstream reported, and the session id as the proxy's
upstream-facing side saw it (through the test-only callback in tests/harness/session_probe.py)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kaiwa.ui.format import money
from tests.conftest import FAKE_INPUT_PRICE, FAKE_OUTPUT_PRICE, Kaiwa
from tests.harness.bodies import tool_messages
from tests.harness.db import stored_items, turn_rows
from tests.harness.proxy import Proxy
from tests.harness.session_probe import RECORDS, read_records
from tests.mcp_fixtures import http_server_config, stdio_server_config
from tests.mcp_fixtures.http_server import running_http_server
from tests.standins.bedrock import BedrockStandIn
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

TWO_TO_THE_100 = "1267650600228229401496703205376"
STYLED = re.compile(r"\x1b\[([0-9;]*)m([^\x1b]+)")  # an SGR escape and the text it styles


def tool_names(body: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools") or []}


def usage_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if re.match(r"fake-\w · [0-9,]+ in\b", line)]


def write_mcp_config(path: Path, servers: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return path


# -- 1. built-in tools --------------------------------------------------------------------------------------------


def test_builtin_calculator_round_trip(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "2**100"}, "call_calc")]),
        Reply(text=f"2**100 is {TWO_TO_THE_100}."),
    )
    run = kaiwa("--input", "what is 2**100 exactly?")
    assert run.code == 0, run.err
    assert run.out == f"2**100 is {TWO_TO_THE_100}.\n"  # only the final answer
    assert "⚙ calculate(expression='2**100')" in run.err
    assert f"  ↳ {TWO_TO_THE_100}" in run.err.splitlines()
    first, second = upstream.model_requests()
    assert {"calculate", "current_time"} <= tool_names(first.body)
    assert tool_messages(first.body) == {}
    assert tool_messages(second.body) == {"call_calc": TWO_TO_THE_100}  # kaiwa ran it, exactly
    assert upstream.rejections == []


def test_builtin_clock_in_tokyo(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall("current_time", {"zone": "Tokyo"}, "call_clock")]),
        Reply(text="It is evening in Tokyo."),
    )
    run = kaiwa("--input", "what time is it in Tokyo?")
    assert run.code == 0, run.err
    assert run.out == "It is evening in Tokyo.\n"
    assert "⚙ current_time(zone='Tokyo')" in run.err
    result = tool_messages(upstream.model_requests()[1].body)["call_clock"]
    assert "Asia/Tokyo" in result and "+09:00" in result, result
    assert "Asia/Tokyo" in run.err  # the short result line


def test_no_tools_sends_no_tools_and_starts_no_mcp_server(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    pid_file = tmp_path / "words.pid"
    config = write_mcp_config(
        tmp_path / "mcp.json", {"words": stdio_server_config(env={"KAIWA_FIXTURE_PID_FILE": str(pid_file)})}
    )
    upstream.script(Reply(text="no tools here"))
    run = kaiwa("--input", "what is 2**100?", "--no-tools", "--mcp-config", str(config))
    assert run.code == 0, run.err
    assert run.out == "no tools here\n"
    [request] = upstream.model_requests()
    assert "tools" not in request.body, request.body.get("tools")
    assert not pid_file.exists()  # the MCP server was never started
    # The same config without --no-tools does offer the tools (so the check above can fail).
    with_tools = kaiwa("--input", "again", "--mcp-config", str(config))
    assert with_tools.code == 0, with_tools.err
    assert {"lookup_word", "calculate"} <= tool_names(upstream.model_requests()[-1].body)


# -- 2. MCP servers over stdio and streamable HTTP ----------------------------------------------------------------


def test_mcp_stdio_and_http_tools_reach_the_upstream(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    pid_file = tmp_path / "words.pid"
    with running_http_server() as url:
        config = write_mcp_config(
            tmp_path / "mcp.json",
            {
                # MCP calls ask first (issue 19): one server runs freely by its config, the other by --approve.
                "words": {**stdio_server_config(env={"KAIWA_FIXTURE_PID_FILE": str(pid_file)}), "approve": "always"},
                "web": http_server_config(url),
                "broken": {"command": str(tmp_path / "no-such-mcp-server")},
            },
        )
        upstream.script(
            Reply(
                text="",
                tool_calls=[
                    ToolCall("lookup_word", {"word": "ramune"}, "call_words"),
                    ToolCall("reverse_text", {"text": "kaiwa"}, "call_web"),
                ],
            ),
            Reply(text="Ramune is a lemonade; kaiwa reversed is awiak."),
        )
        run = kaiwa(
            "--input", "what is ramune, and kaiwa backwards?", "--mcp-config", str(config),
            "--approve", "web/reverse_text",
        )  # fmt: skip
    assert run.code == 0, run.err
    assert run.out == "Ramune is a lemonade; kaiwa reversed is awiak.\n"
    # The broken server: exactly one warning line, and the turn still succeeded.
    mentions = [line for line in run.err.splitlines() if "broken" in line]
    assert len(mentions) == 1 and mentions[0].startswith("MCP server 'broken'"), run.err
    assert "Traceback" not in run.err
    first, second = upstream.model_requests()
    assert {"lookup_word", "add_numbers", "reverse_text", "count_letters", "calculate"} <= tool_names(first.body)
    results = tool_messages(second.body)
    assert results["call_words"].startswith("[words-fixture] ramune: a Japanese lemonade"), results
    assert results["call_web"] == "[http-fixture] awiak", results
    assert "⚙ lookup_word(word='ramune')" in run.err and "↳ [http-fixture] awiak" in run.err
    assert upstream.rejections == []
    # The stdio server ran as a child of chat.py and is gone now that chat.py has exited.
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists(), f"MCP stdio server {pid} outlived chat.py"


# -- 3. tool calls stored in the session and replayed -------------------------------------------------------------


def test_tool_call_and_reasoning_are_stored_and_replayed(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(
            text="",
            thinking="The user wants an exact power of two.",
            tool_calls=[ToolCall("calculate", {"expression": "2**100"}, "call_calc")],
        ),
        Reply(text=f"It is {TWO_TO_THE_100}."),
        Reply(text="Half of it is 2**99."),
    )
    first = kaiwa("--input", "2**100?", "--reasoning", "low")
    assert first.code == 0, first.err
    sid = first.session_id
    assert sid
    items = stored_items(kaiwa.db, sid)
    calls = [i for i in items if i.get("type") == "function_call"]
    outputs = [i for i in items if i.get("type") == "function_call_output"]
    assert [(c["name"], c["call_id"], json.loads(c["arguments"])) for c in calls] == [
        ("calculate", "call_calc", {"expression": "2**100"})
    ]
    assert [(o["call_id"], o["output"]) for o in outputs] == [("call_calc", TWO_TO_THE_100)]
    assert any(i.get("type") == "reasoning" for i in items)

    second = kaiwa("--input", "and half of it?", "--session-id", sid)
    assert second.code == 0, second.err
    assert second.out == "Half of it is 2**99.\n"
    messages = upstream.model_requests()[-1].body["messages"]
    assistant = next(m for m in messages if m["role"] == "assistant" and m.get("tool_calls"))
    assert [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in assistant["tool_calls"]
    ] == [("call_calc", "calculate", {"expression": "2**100"})]
    assert assistant.get("reasoning_content") == "The user wants an exact power of two."
    assert tool_messages(upstream.model_requests()[-1].body) == {"call_calc": TWO_TO_THE_100}
    assert [m["role"] for m in messages if m["role"] != "system"] == ["user", "assistant", "tool", "assistant", "user"]
    assert upstream.rejections == []  # the strict stand-in accepted the replayed pairing


# -- 4. reasoning -------------------------------------------------------------------------------------------------

THINKING = "Let me weigh the question carefully first."


def test_reasoning_effort_reaches_the_upstream_and_thinking_is_dim_on_stderr(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    upstream.script(Reply(text="The answer is 42.", thinking=THINKING, chunks=4))
    # Colours forced on (as on a terminal), --plain keeps stdout plain text.
    run = kaiwa("--input", "think, then answer", "--reasoning", "low", "--plain", FORCE_COLOR="1", NO_COLOR="")
    assert run.code == 0, run.err
    assert run.out == "The answer is 42.\n"
    assert THINKING not in run.out and "weigh" not in run.out
    [request] = upstream.model_requests()
    assert request.body.get("reasoning_effort") == "low"
    # Every piece of the thinking is printed dim (SGR 2) on stderr.
    pieces = [(params.split(";"), text) for params, text in STYLED.findall(run.err)]
    thinking_pieces = [(params, text) for params, text in pieces if text.strip() and text in THINKING]
    assert "".join(text for _, text in thinking_pieces) == THINKING, run.err
    assert all("2" in params for params, _ in thinking_pieces), run.err


def test_thinking_comes_before_the_answer_and_hide_reasoning_hides_it(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    upstream.script(
        Reply(text="The answer is 42.", thinking=THINKING), Reply(text="Hidden thoughts.", thinking=THINKING)
    )
    merged = subprocess.run(
        kaiwa.command("--input", "think", "--reasoning", "high"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, so the order is the order they were written in
        text=True,
        cwd=kaiwa.home,
        env=kaiwa.env,
        timeout=120,
    )
    assert merged.returncode == 0, merged.stdout
    assert 0 <= merged.stdout.index(THINKING) < merged.stdout.index("The answer is 42.")
    hidden = kaiwa("--input", "think quietly", "--reasoning", "high", "--hide-reasoning")
    assert hidden.code == 0, hidden.err
    assert hidden.out == "Hidden thoughts.\n"
    assert "weigh" not in hidden.err and "weigh" not in hidden.out
    assert [r.body.get("reasoning_effort") for r in upstream.model_requests()] == ["high", "high"]


def test_reasoning_from_the_environment(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    run = kaiwa("--input", "hi", KAIWA_REASONING="medium")
    plain = kaiwa("--input", "hi")
    assert (run.code, plain.code) == (0, 0), run.err + plain.err
    assert [r.body.get("reasoning_effort") for r in upstream.model_requests()] == ["medium", None]


def test_a_model_that_cannot_reason_is_not_an_error(kaiwa: Kaiwa, bedrock: BedrockStandIn) -> None:
    # Claude 3.5 Sonnet has no extended thinking: the shipped config's drop_params lets LiteLLM drop it.
    bedrock.script(Reply(text="Plain answer."))
    run = kaiwa("--input", "think hard", "--model", "bedrock-claude-3-5-sonnet", "--reasoning", "high")
    assert run.code == 0, run.err
    assert run.out == "Plain answer.\n"
    [request] = bedrock.model_requests()
    sent = json.dumps(request.body)
    assert "thinking" not in sent and "reasoning" not in sent.lower(), sent[:500]


# -- 5. usage and cost ---------------------------------------------------------------------------------------------


def price(input_tokens: int, output_tokens: int) -> float:
    return input_tokens * FAKE_INPUT_PRICE + output_tokens * FAKE_OUTPUT_PRICE


def dollars(line: str) -> float:
    match = re.search(r"\$([0-9.]+)$", line)
    assert match, f"no cost in {line!r}"
    return float(match.group(1))


def test_usage_and_cost_per_turn_and_per_session(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        # Turn 1: a tool round, so two model calls whose usage kaiwa must add up.
        Reply(
            text="",
            tool_calls=[ToolCall("calculate", {"expression": "6*7"}, "call_1")],
            input_tokens=1203,
            output_tokens=31,
        ),
        Reply(text="42.", input_tokens=1311, output_tokens=257, reasoning_tokens=89, cached_tokens=1024),
        # Turn 2: one call.
        Reply(text="Again 42.", input_tokens=2077, output_tokens=403, reasoning_tokens=0, cached_tokens=0),
    )
    first = kaiwa("--input", "6*7?")
    sid = first.session_id
    assert first.code == 0 and sid, first.err
    second = kaiwa("--input", "again?", "--session-id", sid)
    assert second.code == 0, second.err

    [line1] = usage_lines(first.err)
    [line2] = usage_lines(second.err)
    assert line1.startswith("fake-a · 1,490 in (1,024 cached) · 288 out (89 reasoning) · $"), line1
    assert line2.startswith("fake-a · 2,077 in · 403 out · $"), line2
    cost1, cost2 = price(1203 + 1311, 31 + 257), price(2077, 403)
    assert dollars(line1) == pytest.approx(cost1, abs=5e-7)
    assert dollars(line2) == pytest.approx(cost2, abs=5e-7)

    rows = turn_rows(kaiwa.db, sid)
    assert [row[:4] for row in rows] == [(2514, 288, 89, 1024), (2077, 403, 0, 0)]
    assert rows[0][4] == pytest.approx(cost1, rel=1e-9) and rows[1][4] == pytest.approx(cost2, rel=1e-9)

    listing = kaiwa("sessions")
    assert listing.code == 0, listing.err
    # Piped, `sessions` prints tab-separated columns: id, last used, model, turns, tokens, cost, title.
    [entry] = [line.split("\t") for line in listing.out.splitlines() if line.startswith(sid)]
    assert entry[3] == "2", entry
    assert entry[4] == str(2514 + 288 + 2077 + 403), entry
    assert entry[5] == money(cost1 + cost2), entry  # the one cost format (kaiwa/ui/format.py)
    assert dollars(entry[5]) == pytest.approx(cost1 + cost2, abs=5e-7)


# -- 6. the proxy sees the conversation ----------------------------------------------------------------------------


def test_proxy_sees_the_session_id_on_every_call_of_a_resumed_session(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, proxy: Proxy
) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "1+1"}, "call_sum")]),
        Reply(text="2."),
        Reply(text="Still 2."),
    )
    first = kaiwa("--input", "1+1?")
    sid = first.session_id
    assert first.code == 0 and sid, first.err
    second = kaiwa("--input", "sure?", "--session-id", sid)
    assert second.code == 0 and second.session_id == sid, second.err

    turn_ids = [row[5].split() for row in turn_rows(kaiwa.db, sid)]
    assert [len(ids) for ids in turn_ids] == [2, 1]  # one id per model call, kept with its turn
    kept = {i for ids in turn_ids for i in ids}
    assert len(kept) == 3

    # What LiteLLM knew just before it called the upstream (logged synchronously, so already written).
    records = read_records(proxy.log_path.parent / RECORDS)
    seen = {r["litellm_call_id"]: r for r in records if r["event"] == "pre_api_call" and r["litellm_call_id"] in kept}
    assert set(seen) == kept, (kept, set(seen))  # kaiwa kept LiteLLM's own call ids
    for record in seen.values():
        assert record["litellm_session_id"] == sid, record
        assert record["metadata_session_id"] == sid, record
        assert record["header_session_id"] == sid, record
    # And no call of this session went out without kaiwa knowing its id.
    ours = {r["litellm_call_id"] for r in records if r["event"] == "pre_api_call" and r["litellm_session_id"] == sid}
    assert ours == kept
    # The proxy's logging payload groups the calls under the session (success is logged after the stream ends).
    deadline = time.monotonic() + 15
    while True:
        logged = {
            r["logged_call_id"]: r
            for r in read_records(proxy.log_path.parent / RECORDS)
            if r["event"] == "success" and r["logged_call_id"] in kept
        }
        if set(logged) == kept or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(logged) == kept
    assert {r["logged_trace_id"] for r in logged.values()} == {sid}
