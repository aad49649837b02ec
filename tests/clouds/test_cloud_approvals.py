"""A declined tool call, resumed on each cloud (issue 19): chat.py piped (no terminal: the call needing approval
is declined) → the real LiteLLM proxy → each cloud's stand-in, strict about tool results answering tool uses.
The declined call is stored with the SDK's rejection as its output, so the next turn's history replays in the
cloud's own format: Bedrock `toolResult`, Anthropic `tool_result`, Gemini `functionResponse`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.clouds.test_clouds import BEDROCK, CLOUDS, FOUNDRY, Cloud, ok, stand_in_for
from tests.conftest import Kaiwa
from tests.harness.approvals import REJECTED, with_git
from tests.harness.db import stored_items
from tests.mcp_fixtures.git import staged
from tests.standins.script import Reply, ToolCall


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_declined_call_resumes_in_the_clouds_format(
    cloud: Cloud, kaiwa: Kaiwa, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    repo = with_git(kaiwa, tmp_path)
    stand_in = stand_in_for(cloud, request)
    call = ToolCall("git_add", {"repo_path": str(repo), "files": ["a.txt"]}, id="toolu_add_01")
    stand_in.script(Reply(text="", tool_calls=[call]), Reply(text="Not staged."), Reply(text="Still not."))
    first = ok(kaiwa("--input", "Stage a.txt.", "--model", cloud.alias))
    assert first.out == "Not staged.\n" and "--approve git/git_add" in first.err
    assert staged(repo) == []
    sid = first.session_id
    assert sid
    # Answered within the turn: the model got the rejection as the call's result in the cloud's format.
    [told] = cloud.tool_results(stand_in)
    assert REJECTED in json.dumps(told)
    kinds = [(i.get("type") or "message", i.get("role")) for i in stored_items(kaiwa.db)]
    assert kinds == [
        ("message", "user"),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "assistant"),
    ]

    ok(kaiwa("--input", "Why not?", "--session-id", sid, "--model", cloud.alias))
    a = cloud.assistant
    history = cloud.history(stand_in)
    assert history[0] == ("user", "Stage a.txt.") and history[-2:] == [(a, "Not staged."), ("user", "Why not?")]
    [result] = replayed_results(cloud, stand_in)  # the call and its rejection, replayed in the cloud's words
    assert REJECTED in json.dumps(result)
    assert stand_in.rejections == []
    assert staged(repo) == []


def replayed_results(cloud: Cloud, stand_in: Any) -> list[dict[str, Any]]:
    """The tool results anywhere in the history of the last model request, each in its cloud's own shape."""
    if cloud is BEDROCK:
        blocks = [b for m in stand_in.calls[-1].messages for b in m["content"]]
        return [b["toolResult"] for b in blocks if "toolResult" in b and b["toolResult"]["toolUseId"] == "toolu_add_01"]
    if cloud is FOUNDRY:
        blocks = [b for m in stand_in.model_requests()[-1].body["messages"] if isinstance(m["content"], list)
                  for b in m["content"]]  # fmt: skip
        return [b for b in blocks if b.get("type") == "tool_result" and b["tool_use_id"] == "toolu_add_01"]
    parts = [p for c in stand_in.calls[-1].contents for p in c["parts"]]
    return [p["functionResponse"] for p in parts if p.get("functionResponse", {}).get("name") == "git_add"]
