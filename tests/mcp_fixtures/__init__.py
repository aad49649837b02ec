"""Small real MCP servers for tests: `stdio_server.py` (run as `python path`) and `http_server.py`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

STDIO_SERVER = Path(__file__).with_name("stdio_server.py")
HTTP_SERVER = Path(__file__).with_name("http_server.py")


def stdio_server_config(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One `mcpServers` entry that runs the stdio fixture with this interpreter."""
    entry: dict[str, Any] = {"command": sys.executable, "args": [str(STDIO_SERVER), *args]}
    if env:
        entry["env"] = env
    return entry


def http_server_config(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One `mcpServers` entry for a running HTTP fixture (see http_server.running_http_server)."""
    entry: dict[str, Any] = {"url": url}
    if headers:
        entry["headers"] = headers
    return entry
