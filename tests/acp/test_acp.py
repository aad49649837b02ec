"""`chat.py acp` through the protocol's own Python client (tests/acp/client.py) → the real LiteLLM proxy → the
OpenAI-compatible stand-in: sessions kept in kaiwa's store, a one-shot's session loaded and replayed, approvals
over `session/request_permission` (checked in git), cancelling, failing, malformed requests, and stdout that holds
nothing but protocol lines (checked after every test by `spawn`)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import acp
import pytest
from acp import schema as s
from acp.helpers import text_block

from tests.acp.client import Agent, initialized, spawn
from tests.conftest import Kaiwa
from tests.harness.db import stored_items
from tests.mcp_fixtures.git import GIT_SERVER, git_repo, staged
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

REJECTED = "Tool execution was not approved."


def sessions(db: Path) -> list[tuple[str, str | None, str]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT session_id, origin, title FROM kaiwa_sessions ORDER BY created_at"))


def sent(upstream: OpenAIChatStandIn, request: int = -1) -> list[tuple[str, str]]:
    """(role, text) of each message that reached the model in a request."""

    def text(content: Any) -> str:
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return str(content)

    return [(m["role"], text(m.get("content"))) for m in upstream.model_requests()[request].body["messages"]]


async def say(agent: Agent, session_id: str, text: str) -> s.PromptResponse:
    return await agent.conn.prompt(session_id=session_id, prompt=[text_block(text)])


async def new(agent: Agent, cwd: Path, servers: list[Any] | None = None) -> str:
    await initialized(agent)
    return str((await agent.conn.new_session(cwd=str(cwd), mcp_servers=servers or [])).session_id)


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_two_prompts_continue_one_stored_session(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, cold: bool) -> None:
    upstream.script(Reply(text="first answer"), Reply(text="second answer"))

    async def go() -> str:
        async with spawn(kaiwa, **({"KAIWA_WARM": "0"} if cold else {})) as agent:
            init = await initialized(agent)
            assert init.protocol_version == 1
            assert init.agent_capabilities is not None and init.agent_capabilities.load_session is True
            opened = await agent.conn.new_session(cwd=str(kaiwa.home), mcp_servers=[])
            assert uuid.UUID(opened.session_id).version == 7
            assert {option.id for option in opened.config_options or []} == {"model", "reasoning", "role"}
            sid = opened.session_id
            assert (await say(agent, sid, "hello there")).stop_reason == "end_turn"
            assert agent.client.text(sid) == "first answer"
            assert (await say(agent, sid, "and again")).stop_reason == "end_turn"
            assert agent.client.text(sid) == "first answersecond answer"
            listed = await agent.conn.list_sessions(cwd=str(kaiwa.home))
            assert [(x.session_id, x.title) for x in listed.sessions] == [(sid, "hello there")]
            return sid

    sid = asyncio.run(go())
    assert sessions(kaiwa.db) == [(sid, f"acp in {kaiwa.home}", "hello there")]
    assert len(stored_items(kaiwa.db, sid)) == 4
    # the second turn carried the first exchange: the conversation went on
    assert ("assistant", "first answer") in sent(upstream)
    assert any(role == "user" and "hello there" in text for role, text in sent(upstream))


def test_load_replays_a_one_shot_session_then_goes_on(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "6 * 7"}, id="call_calc")]),
        Reply(text="it is 42"),
    )
    done = kaiwa("-i", "what is six times seven?")
    assert done.code == 0, done.err
    sid = done.session_id
    assert sid is not None
    upstream.script(Reply(text="still 42"))

    async def go() -> list[Any]:
        async with spawn(kaiwa) as agent:
            await initialized(agent)
            loaded = await agent.conn.load_session(cwd=str(kaiwa.home), session_id=sid, mcp_servers=[])
            assert loaded is not None
            replayed = list(agent.client.updates[sid])
            assert (await say(agent, sid, "are you sure?")).stop_reason == "end_turn"
            return replayed

    replayed = asyncio.run(go())
    kinds = [u.session_update for u in replayed]
    assert kinds == ["user_message_chunk", "tool_call", "tool_call_update", "agent_message_chunk"]
    assert replayed[0].content.text == "what is six times seven?"
    assert replayed[1].tool_call_id == "call_calc" and replayed[1].raw_input == {"expression": "6 * 7"}
    assert replayed[2].status == "completed" and "42" in json.dumps(replayed[2].raw_output)
    assert replayed[3].content.text == "it is 42"
    assert ("assistant", "it is 42") in sent(upstream)  # the loaded history went to the model
    assert len(stored_items(kaiwa.db, sid)) == 6


def test_permission_rejected_then_allowed_with_the_editors_git_server(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    repo = git_repo(tmp_path / "repo", "a.txt", "b.txt")
    git = s.McpServerStdio(name="git", command=str(GIT_SERVER), args=["--repository", str(repo)], env=[])

    def add(name: str, call_id: str) -> Reply:
        return Reply(text="", tool_calls=[ToolCall("git_add", {"repo_path": str(repo), "files": [name]}, id=call_id)])

    upstream.script(add("a.txt", "call_no"), Reply(text="not staged"), add("a.txt", "call_yes"), Reply(text="staged"))

    async def go() -> None:
        async with spawn(kaiwa) as agent:
            sid = await new(agent, kaiwa.home, [git])
            agent.client.answers = ["reject_once"]
            assert (await say(agent, sid, "stage a.txt")).stop_reason == "end_turn"
            assert staged(repo) == []
            asked = agent.client.requests[0]
            assert sorted(o.kind for o in asked.options) == ["allow_always", "allow_once", "reject_always",
                                                             "reject_once"]  # fmt: skip
            assert asked.tool_call.tool_call_id == "call_no" and asked.tool_call.title == "git/git_add"
            failed = [u for u in agent.client.updates[sid] if u.session_update == "tool_call_update"]
            assert failed[-1].status == "failed"
            agent.client.answers = ["allow_once"]
            assert (await say(agent, sid, "please stage it")).stop_reason == "end_turn"
            assert staged(repo) == ["a.txt"]
            done = [u for u in agent.client.updates[sid] if u.session_update == "tool_call_update"]
            assert done[-1].status == "completed" and done[-1].tool_call_id == "call_yes"

    asyncio.run(go())
    assert upstream.model_requests()[1].body["messages"][-1]["content"] == REJECTED


def test_cancel_mid_answer_stores_nothing_and_the_agent_goes_on(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="slow " * 40, chunks=40, chunk_delay=0.5), Reply(text="after the cancel"))

    async def go() -> None:
        async with spawn(kaiwa) as agent:
            sid = await new(agent, kaiwa.home)
            turn = asyncio.create_task(say(agent, sid, "tell me slowly"))
            await asyncio.wait_for(agent.client.chunk.wait(), 60)  # the answer has started
            await agent.conn.cancel(session_id=sid)
            assert (await asyncio.wait_for(turn, 60)).stop_reason == "cancelled"
            assert sessions(kaiwa.db) == []  # nothing of the turn stored
            assert (await say(agent, sid, "now quickly")).stop_reason == "end_turn"
            assert agent.client.text(sid).endswith("after the cancel")

    asyncio.run(go())
    assert [i.get("role") for i in stored_items(kaiwa.db)] == ["user", "assistant"]


def test_cancel_while_a_permission_request_waits(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", "a.txt")
    git = s.McpServerStdio(name="git", command=str(GIT_SERVER), args=["--repository", str(repo)], env=[])
    call = ToolCall("git_add", {"repo_path": str(repo), "files": ["a.txt"]}, id="call_wait")
    upstream.script(Reply(text="", tool_calls=[call]), Reply(text="never"))

    async def go() -> None:
        async with spawn(kaiwa) as agent:
            sid = await new(agent, kaiwa.home, [git])
            turn = asyncio.create_task(say(agent, sid, "stage a.txt"))
            await asyncio.wait_for(agent.client.asked.wait(), 60)  # never answered
            await agent.conn.cancel(session_id=sid)
            assert (await asyncio.wait_for(turn, 60)).stop_reason == "cancelled"

    asyncio.run(go())
    assert staged(repo) == [] and sessions(kaiwa.db) == []


def test_a_failing_turn_is_one_line_and_the_agent_keeps_serving(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(status=400, error_message="the stand-in does not like this"), Reply(text="fine now"))

    async def go() -> None:
        async with spawn(kaiwa) as agent:
            sid = await new(agent, kaiwa.home)
            with pytest.raises(acp.RequestError) as failed:
                await say(agent, sid, "this fails")
            line = str(failed.value)
            assert line.startswith("error: ") and "the stand-in does not like this" in line and "\n" not in line
            assert sessions(kaiwa.db) == []
            assert (await say(agent, sid, "and this works")).stop_reason == "end_turn"

    asyncio.run(go())


def test_malformed_requests_get_json_rpc_errors_and_the_agent_keeps_serving(kaiwa: Kaiwa) -> None:
    async def go() -> None:
        async with spawn(kaiwa) as agent:
            await agent.write(b"this is not json")
            assert (await agent.answer_to(None))["error"]["code"] == -32700
            await agent.write(b"[1, 2, 3]")
            assert (await agent.answer_to(None))["error"]["code"] == -32600
            await agent.write(b'{"jsonrpc": "2.0", "id": "bad-params", "method": "session/new", "params": {"cwd": 5}}')
            assert (await agent.answer_to("bad-params"))["error"]["code"] == -32602
            await agent.write(b'{"jsonrpc": "2.0", "id": "nope", "method": "no/such/method", "params": {}}')
            assert (await agent.answer_to("nope"))["error"]["code"] == -32601
            await agent.write(b'{"jsonrpc": "2.0", "id": "unknown", "method": "session/prompt", '
                              b'"params": {"sessionId": "0190", "prompt": []}}')  # fmt: skip
            assert (await agent.answer_to("unknown"))["error"]["message"].startswith("error: no open session 0190")
            assert (await initialized(agent)).protocol_version == 1  # still serving

    asyncio.run(go())


def test_hostile_lines_get_json_rpc_errors_and_the_agent_keeps_serving(tmp_path: Path) -> None:
    """Nesting deeper than Python's JSON reader goes, and bytes that are not UTF-8: each is one JSON-RPC error and
    the agent reads on (the reader used to die on the first, leaving an editor waiting forever). No proxy needed."""
    kaiwa = Kaiwa(tmp_path, {"KAIWA_WARM": "0"})

    async def go() -> None:
        async with spawn(kaiwa) as agent:
            await agent.write(b"[" * 200_000 + b"]" * 200_000)
            assert (await agent.answer_to(None))["error"]["code"] == -32700
            deep = b'{"jsonrpc": "2.0", "id": "deep", "method": "initialize", "params": ' + b"[" * 200_000
            await agent.write(deep + b"]" * 200_000 + b"}")
            assert (await agent.answer_to(None))["error"]["code"] == -32700
            await agent.write(b'{"jsonrpc": "2.0", "id": "\xff\xfe", "method": "\xc3"}'.decode("unicode_escape")
                              .encode("latin-1"))  # fmt: skip
            assert (await agent.answer_to(None))["error"]["code"] == -32700
            assert (await initialized(agent)).protocol_version == 1  # still serving

    asyncio.run(go())


def test_choices_apply_from_the_next_turn_and_usage_is_reported(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, bedrock: Any
) -> None:
    upstream.script(Reply(text="from fake-a"))
    bedrock.script(Reply(text="from bedrock", input_tokens=1200, output_tokens=30))

    async def go() -> tuple[str, list[Any]]:
        async with spawn(kaiwa) as agent:
            sid = await new(agent, kaiwa.home)
            assert (await say(agent, sid, "first")).stop_reason == "end_turn"
            changed = await agent.conn.set_config_option(config_id="model", session_id=sid,
                                                         value="bedrock-claude-3-5-sonnet")  # fmt: skip
            assert changed is not None
            assert {o.id: o.current_value for o in changed.config_options}["model"] == "bedrock-claude-3-5-sonnet"
            with pytest.raises(acp.RequestError) as bad:
                await agent.conn.set_config_option(config_id="model", session_id=sid, value="no-such-alias")
            assert "no model 'no-such-alias'" in str(bad.value)
            assert (await say(agent, sid, "second")).stop_reason == "end_turn"
            return agent.client.text(sid), list(agent.client.updates[sid])

    answers, updates = asyncio.run(go())
    assert answers == "from fake-afrom bedrock"  # the model changed for the second turn only
    assert len(upstream.model_requests()) == 1 and len(bedrock.model_requests()) == 1
    usage = [u for u in updates if u.session_update == "usage_update"]
    assert usage, "no usage_update after a turn on a model whose window the proxy states"
    assert usage[-1].used == 1230 and usage[-1].size >= 100_000
    assert usage[-1].cost is not None and usage[-1].cost.currency == "USD" and usage[-1].cost.amount > 0
