"""The MCP servers an editor passes in `session/new` / `session/load`, as kaiwa's own server specs: they join the
servers of kaiwa's MCP config under the same rules (`approve: ask` unless the config says otherwise for a server of
that name: the editor's then replaces it). The user chose them in the editor's settings, so no folder trust applies."""

from __future__ import annotations

from typing import Any

from acp import schema as s

from ...errors import UsageError


def specs_for(servers: list[Any]) -> list[Any]:
    from ...tools.mcp_config import parse_mcp_config

    config: dict[str, Any] = {}
    for server in servers:
        if isinstance(server, s.McpServerStdio):
            config[server.name] = {"command": server.command, "args": list(server.args),
                                   "env": {v.name: v.value for v in server.env}}  # fmt: skip
        elif isinstance(server, s.HttpMcpServer):
            config[server.name] = {"type": "http", "url": server.url,
                                   "headers": {h.name: h.value for h in server.headers}}  # fmt: skip
        else:
            raise UsageError(f"the MCP server {server.name!r} uses a transport kaiwa does not speak",
                             "give it as stdio or http")  # fmt: skip
    try:
        return parse_mcp_config({"mcpServers": config})
    except ValueError as exc:
        raise UsageError(f"the editor's MCP servers: {exc}", "check them in the editor's settings") from None
