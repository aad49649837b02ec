"""What kaiwa sends for earlier turns is byte-identical from one turn to the next, in each cloud's own format: chat.py
as a subprocess → the REAL proxy with the shipped config → the cloud stand-ins, which key their caches on these
exact bytes. Three turns (the second with a tool round) with instructions long enough to cache; every upstream
request's blocks (tools, system, messages; each block's exact bytes without its moving cache marker) must begin
with all the blocks of the request before it. Then the cloud must really have read the conversation from cache."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.conftest import Kaiwa, Run
from tests.standins.prompt_cache import CachedRequest, anthropic_request, bedrock_request, gemini_request
from tests.standins.script import Reply, ToolCall
from tests.standins.server import StandIn

INSTRUCTIONS = "Answer as the team's careful reviewer; name files by path and keep to the point. " * 60


def bedrock_blocks(stand_in: Any) -> list[CachedRequest]:
    return [bedrock_request(r.body) for r in stand_in.model_requests()]


def anthropic_blocks(stand_in: Any) -> list[CachedRequest]:
    return [anthropic_request(r.body) for r in stand_in.model_requests()]


def gemini_blocks(stand_in: Any) -> list[CachedRequest]:
    def read(body: dict[str, Any]) -> CachedRequest:
        system = body.get("systemInstruction") or body.get("system_instruction")
        return gemini_request(system, body.get("tools"), body["contents"])

    return [read(r.body) for r in stand_in.model_requests() if "contents" in r.body]


FORMATS = [
    pytest.param("bedrock-claude-sonnet-4-5", "bedrock", bedrock_blocks, True, id="bedrock-converse"),
    pytest.param("bedrock-claude-3-5-sonnet", "bedrock", bedrock_blocks, False, id="bedrock-default-alias"),
    pytest.param("azure-foundry-claude", "foundry", anthropic_blocks, True, id="anthropic-messages"),
    pytest.param("vertex-gemini-2.5-flash", "vertex", gemini_blocks, True, id="vertex-gemini"),
]


def ok(run: Run) -> dict[str, Any]:
    assert run.code == 0, run.err
    events = [json.loads(line) for line in run.out.splitlines()]
    done: dict[str, Any] = events[-1]
    assert done["type"] == "done", events
    return done


@pytest.mark.parametrize(("alias", "fixture", "blocks_of", "caches"), FORMATS)
def test_each_turn_resends_the_previous_bytes_unchanged(
    alias: str, fixture: str, blocks_of: Any, caches: bool, kaiwa: Kaiwa, request: pytest.FixtureRequest
) -> None:
    stand_in: StandIn = request.getfixturevalue(fixture)
    stand_in.script(
        Reply(text="First answer."),
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "6*7"}, id="toolu_prefix_01")]),
        Reply(text="It is 42."),
        Reply(text="Third answer."),
    )
    system = f"[{secrets.token_hex(4)}] {INSTRUCTIONS}"  # this test's own prefix: no other test's cache entries
    common = ("--json", "--model", alias, "--system", system)
    first = kaiwa("--input", "First question.", *common)
    sid = first.session_id or json.loads(first.out.splitlines()[0]).get("session_id")
    ok(first)
    assert sid, first.out
    ok(kaiwa("--input", "What is 6 times 7?", "--session-id", sid, *common))
    third = ok(kaiwa("--input", "Third question.", "--session-id", sid, *common))

    requests = blocks_of(stand_in)
    assert len(requests) == 4 and stand_in.rejections == []
    for n, (before, after) in enumerate(zip(requests, requests[1:], strict=False), start=1):
        sent = [b.identity for b in before.blocks]
        assert [b.identity for b in after.blocks[: len(sent)]] == sent, f"request {n + 1} changed request {n}'s bytes"
        assert len(after.blocks) > len(sent)
    if caches:
        # turn 3 read everything up to its own new message from the cloud's cache
        read = sum(b.tokens for b in requests[2].blocks) if fixture == "vertex" else None
        cached = third["usage"]["cached_tokens"]
        assert cached > 1024 and (read is None or cached == read), third["usage"]
    else:
        assert third["usage"]["cached_tokens"] == 0
