"""The approval policy (issue 19): mcp.json's `approve` / `allow` / `deny` / `trust_annotations`, `--approve` names and
session grants, read from real config files; then the same rules applied by the Agents SDK to a real
`mcp-server-git` (its own annotations), with the effect checked in git."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from kaiwa.errors import UsageError
from kaiwa.tools.approval import ApprovalPolicy, parse_approve_names
from kaiwa.tools.mcp import connected_mcp_servers
from kaiwa.tools.mcp_config import ApprovalRule, load_mcp_config
from tests.harness.mcp import write_config
from tests.mcp_fixtures.git import git_repo, git_server_config, staged
from tests.standins.responses import ResponsesStandIn
from tests.standins.script import Reply, ToolCall


def policy_from(path: Path, approve: tuple[str, ...] = ()) -> ApprovalPolicy:
    return ApprovalPolicy({spec.name: spec.approval for spec in load_mcp_config(path)}, approve)


def test_approval_keys_are_read_from_the_config(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "plain": {"command": "x"},
            "git": {
                "command": "mcp-server-git",
                "approve": "ask",
                "allow": ["git_status"],
                "deny": ["git_reset", " git_checkout "],
                "trust_annotations": True,
            },
            "open": {"url": "http://127.0.0.1:9/mcp", "approve": "always"},
            "shut": {"command": "y", "approve": "never"},
        },
    )
    plain, git, open_, shut = load_mcp_config(path)
    assert plain.approval == ApprovalRule()  # no keys: ask for everything, annotations not trusted
    assert git.approval == ApprovalRule(
        "ask", frozenset({"git_status"}), frozenset({"git_reset", "git_checkout"}), trust_annotations=True
    )
    assert (open_.approval.approve, shut.approval.approve) == ("always", "never")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"approve": "sometimes"}, "approve must be one of 'ask', 'always', 'never', not 'sometimes'"),
        ({"approve": True}, "approve must be one of"),
        ({"allow": "git_add"}, "allow must be a list of tool names"),
        ({"deny": ["ok", 3]}, "deny must be a list of tool names"),
        ({"deny": [""]}, "deny must be a list of tool names"),
        ({"allow": ["git_add", "x"], "deny": ["git_add"]}, "git_add in both 'allow' and 'deny'"),
        ({"trust_annotations": "yes"}, "trust_annotations must be true or false"),
    ],
)
def test_malformed_approval_keys_are_one_clear_line(tmp_path: Path, entry: dict[str, Any], problem: str) -> None:
    path = write_config(tmp_path, {"git": {"command": "mcp-server-git", **entry}})
    with pytest.raises(UsageError) as caught:
        load_mcp_config(path)
    line = caught.value.line()
    assert problem in line and str(path) in line and "server 'git'" in line and "\n" not in line


def test_the_first_rule_that_applies_decides(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "git": {"command": "g", "allow": ["git_log"], "deny": ["git_reset"], "trust_annotations": True},
            "fs": {"command": "f"},
            "open": {"command": "o", "approve": "always", "deny": ["rm"]},
            "shut": {"command": "s", "approve": "never", "allow": ["ls"]},
        },
    )
    policy = policy_from(path, ("write_file", "git/git_commit"))
    actions = {
        (server, tool, hint): policy.verdict(server, tool, hint).action
        for server, tool, hint in [
            ("git", "git_reset", True),  # deny beats a trusted read-only hint
            ("git", "git_log", False),  # allow beats the hint saying it writes
            ("git", "git_status", True),  # trusted annotations
            ("git", "git_add", False),
            ("git", "git_add", None),
            ("git", "git_commit", False),  # --approve server/tool
            ("fs", "read_file", True),  # a hint without trust_annotations is only shown
            ("fs", "write_file", False),  # --approve tool, on any server
            ("open", "anything", None),
            ("open", "rm", None),  # deny beats "always"
            ("shut", "cat", True),
            ("shut", "ls", None),  # allow beats "never"
            ("unknown", "tool", None),  # a server without rules asks
        ]
    }
    assert actions == {
        ("git", "git_reset", True): "decline",
        ("git", "git_log", False): "run",
        ("git", "git_status", True): "run",
        ("git", "git_add", False): "ask",
        ("git", "git_add", None): "ask",
        ("git", "git_commit", False): "run",
        ("fs", "read_file", True): "ask",
        ("fs", "write_file", False): "run",
        ("open", "anything", None): "run",
        ("open", "rm", None): "decline",
        ("shut", "cat", True): "decline",
        ("shut", "ls", None): "run",
        ("unknown", "tool", None): "ask",
    }
    assert policy.verdict("shut", "cat").why == 'its server has "approve": "never" in mcp.json'


def test_approve_all_and_grants_never_override_a_no_in_the_config(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, {"git": {"command": "g", "deny": ["git_reset"]}, "shut": {"command": "s", "approve": "never"}}
    )
    everything = policy_from(path, ("all",))
    assert everything.verdict("git", "git_add").action == "run"
    assert everything.verdict("git", "git_reset").action == "decline"
    assert everything.verdict("shut", "x").action == "decline"

    policy = policy_from(path)
    assert policy.verdict("git", "git_add").action == "ask"
    policy.grant("git", "git_add")
    assert policy.verdict("git", "git_add").why == "allowed for this session"
    assert policy.verdict("other", "git_add").action == "ask"  # a grant is for that server's tool only
    policy.grant("git", "git_reset")
    assert policy.verdict("git", "git_reset").action == "decline"


def test_approve_names() -> None:
    assert parse_approve_names(["git_add", "git/git_commit", "all", "team/git/git_log"]) == {
        "git_add",
        "git/git_commit",
        "all",
        "team/git/git_log",
    }
    for bad in ["", "  ", "git/", "/git_add"]:
        with pytest.raises(UsageError, match="is not a tool name"):
            parse_approve_names([bad])
    policy = ApprovalPolicy({}, ["git_add", "git/git_comit", "fs/write", "all"])
    assert policy.unmatched({"git": ["git_add", "git_commit"], "fs": ["write"]}) == ["git/git_comit"]


# --- the rules in the SDK's approval flow, on a real mcp-server-git -----------------------------------------------


def run_calls(
    tmp_path: Path, entry: dict[str, Any], calls: list[ToolCall], policy: ApprovalPolicy | None = None
) -> Any:
    """One SDK run against a scripted Responses stand-in that calls `calls` at once; returns (tool outputs by call
    id, ids of the calls that wait for approval)."""
    from agents import Agent, OpenAIResponsesModel, RunConfig, Runner
    from openai import AsyncOpenAI

    upstream = ResponsesStandIn().start()
    upstream.script(Reply(text="", tool_calls=calls), Reply(text="done"))
    specs = load_mcp_config(write_config(tmp_path, {"git": entry}))

    async def run() -> tuple[dict[str, Any], list[str]]:
        async with connected_mcp_servers(specs, pytest.fail, policy=policy) as servers:
            client = AsyncOpenAI(base_url=f"{upstream.url}/v1", api_key="k", max_retries=0)
            agent = Agent(name="t", model=OpenAIResponsesModel(model="m", openai_client=client), mcp_servers=servers)
            result = Runner.run_streamed(agent, "go", run_config=RunConfig(tracing_disabled=True))
            outputs = {}
            async for event in result.stream_events():
                if event.type == "run_item_stream_event" and event.name == "tool_output":
                    outputs[event.item.raw_item["call_id"]] = event.item.output
            await client.close()
            return outputs, [item.raw_item.call_id for item in result.interruptions]

    try:
        return asyncio.run(run())
    finally:
        upstream.stop()


def test_trusted_annotations_run_read_only_tools_and_stop_writes(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", "a.txt")
    calls = [
        ToolCall("git_status", {"repo_path": str(repo)}, id="call_status"),
        ToolCall("git_add", {"repo_path": str(repo), "files": ["a.txt"]}, id="call_add"),
    ]
    outputs, waiting = run_calls(tmp_path, git_server_config(repo, trust_annotations=True), calls)
    assert list(outputs) == ["call_status"] and "a.txt" in json.dumps(outputs["call_status"])
    assert waiting == ["call_add"]
    assert staged(repo) == []

    outputs, waiting = run_calls(tmp_path, git_server_config(repo), calls)  # annotations not trusted: both wait
    assert outputs == {} and waiting == ["call_status", "call_add"]
    assert staged(repo) == []


def test_always_and_approve_names_let_a_write_run(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", "a.txt", "b.txt")
    add_a = [ToolCall("git_add", {"repo_path": str(repo), "files": ["a.txt"]}, id="call_a")]
    outputs, waiting = run_calls(tmp_path, git_server_config(repo, approve="always"), add_a)
    assert waiting == [] and "staged" in json.dumps(outputs["call_a"])
    assert staged(repo) == ["a.txt"]

    add_b = [ToolCall("git_add", {"repo_path": str(repo), "files": ["b.txt"]}, id="call_b")]
    policy = ApprovalPolicy({"git": ApprovalRule()}, ["git/git_add"])
    outputs, waiting = run_calls(tmp_path, git_server_config(repo), add_b, policy)
    assert waiting == [] and staged(repo) == ["a.txt", "b.txt"]


def test_denied_and_never_calls_wait_for_the_engine_to_decline_them(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", "a.txt")
    add = [ToolCall("git_add", {"repo_path": str(repo), "files": ["a.txt"]}, id="call_add")]
    for entry in (git_server_config(repo, deny=["git_add"]), git_server_config(repo, approve="never")):
        policy = ApprovalPolicy({"git": load_mcp_config(write_config(tmp_path, {"git": entry}))[0].approval}, ["all"])
        outputs, waiting = run_calls(tmp_path, entry, add, policy)
        assert outputs == {} and waiting == ["call_add"]
    assert staged(repo) == []
