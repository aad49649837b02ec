"""Approvals against a real `mcp-server-git`: a repository and kaiwa's mcp.json running the server on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Kaiwa
from tests.mcp_fixtures.git import git_repo, git_server_config

REJECTED = "Tool execution was not approved."  # the SDK's own rejection, sent and stored as the call's output


def with_git(kaiwa: Kaiwa, tmp_path: Path, **policy: Any) -> Path:
    """A repository with a.txt and b.txt unstaged, and kaiwa's mcp.json running mcp-server-git on it."""
    repo = git_repo(tmp_path / "repo", "a.txt", "b.txt")
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"git": git_server_config(repo, **policy)}}), encoding="utf-8")
    kaiwa.env["KAIWA_MCP_CONFIG"] = str(config)
    return repo
