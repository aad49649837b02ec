"""`chat.py acp` through a second real client: the protocol's TypeScript SDK (`client()`, `@agentclientprotocol/sdk`
from the npm registry, installed once into a cache folder) under Node — initialize, new (with the editor's own
`mcp-server-git`), two prompts, a permission rejected then allowed (checked in git), a cancel mid-answer and a
failing turn, all in one agent process to keep it short. Skipped only when node or npm is missing."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Kaiwa
from tests.harness.db import stored_items
from tests.mcp_fixtures.git import GIT_SERVER, git_repo, staged
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

HERE = Path(__file__).parent / "node"
SDK_VERSION = json.loads((HERE / "package.json").read_text())["dependencies"]["@agentclientprotocol/sdk"]


def node_client() -> Path:
    """The folder holding the SDK and the client script; npm installs the SDK there once (cached by version)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node or npm is missing: the TypeScript SDK's client cannot run here")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "kaiwa-tests" / f"acp-node-sdk-{SDK_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two workers install once
        installed = folder / "node_modules" / "@agentclientprotocol" / "sdk" / "package.json"
        if not installed.exists() or json.loads(installed.read_text())["version"] != SDK_VERSION:
            shutil.copy(HERE / "package.json", folder / "package.json")
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=folder, check=True,
                           timeout=600)  # fmt: skip
        shutil.copy(HERE / "client.mjs", folder / "client.mjs")
    return folder


def test_the_typescript_sdk_client_drives_a_session(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    folder = node_client()
    repo = git_repo(tmp_path / "repo", "a.txt")

    def add(call_id: str) -> Reply:
        call = ToolCall("git_add", {"repo_path": str(repo), "files": ["a.txt"]}, id=call_id)
        return Reply(text="", tool_calls=[call])

    upstream.script(
        Reply(text="first"), Reply(text="second"),
        add("call_no"), Reply(text="left alone"), add("call_yes"), Reply(text="staged"),
        Reply(text="slow " * 40, chunks=40, chunk_delay=0.5),
        Reply(status=400, error_message="the stand-in refuses this one"),
    )  # fmt: skip
    config = {"command": kaiwa.command("acp"), "cwd": str(kaiwa.home), "repo": str(repo), "git": str(GIT_SERVER)}
    done = subprocess.run(["node", str(folder / "client.mjs"), json.dumps(config)], capture_output=True, text=True,
                          env=kaiwa.env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert (seen["protocolVersion"], seen["loadSession"], seen["exitCode"]) == (1, True, 0)
    assert seen["twoAnswers"] == "firstsecond"
    assert seen["stops"] == ["end_turn", "end_turn", "end_turn", "end_turn", "cancelled"]
    assert seen["asked"] == [{"kinds": ["allow_always", "allow_once", "reject_always", "reject_once"],
                              "title": "git/git_add"}]  # fmt: skip
    assert staged(repo) == ["a.txt"]  # allowed the second time only (the first answer was reject_once)
    assert seen["failure"]["message"].startswith("error: ") and "refuses this one" in seen["failure"]["message"]
    for line in seen["stdout"]:
        assert json.loads(line)["jsonrpc"] == "2.0"
    # four turns stored (the cancelled and the failed one left nothing), in one session
    items = stored_items(kaiwa.db, seen["sessionId"])
    assert sum(1 for i in items if i.get("role") == "user") == 4
