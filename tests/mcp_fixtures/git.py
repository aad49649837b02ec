"""A real side-effecting MCP server for the approval tests: `mcp-server-git` (a dev dependency, from the registry)
confined to a temporary repository. Its `git_add` and `git_commit` write; `git_status` and the diffs declare
`readOnlyHint`. Whether a call ran is read from git itself (`staged`), not from what kaiwa says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

GIT_SERVER = Path(sys.executable).with_name("mcp-server-git")


def git_repo(root: Path, *files: str) -> Path:
    """A fresh repository at `root` with `files` written but not staged."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name in files or ("notes.txt",):
        (root / name).write_text(f"{name}\n", encoding="utf-8")
    return root


def staged(repo: Path) -> list[str]:
    """The paths in the repository's index that differ from HEAD (nothing committed yet: all of the index)."""
    out = subprocess.run(
        ["git", "-C", str(repo), "diff", "--cached", "--name-only"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def git_server_config(repo: Path, **policy: Any) -> dict[str, Any]:
    """One `mcpServers` entry running mcp-server-git on `repo`, plus approval keys (`approve`, `allow`, …)."""
    return {"command": str(GIT_SERVER), "args": ["--repository", str(repo)], **policy}
