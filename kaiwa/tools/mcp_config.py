"""MCP server configuration, in the format other MCP clients use:

    {"mcpServers": {
        "words": {"command": "python", "args": ["server.py"], "env": {"API_KEY": "${WORDS_KEY}"}},
        "remote": {"url": "https://example.test/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}
    }}

`${VAR}` and `${VAR:-default}` are expanded from the environment in command, args, env, cwd, url and headers.

Each server may also say how its tool calls are approved (`approval.py` applies it):

    "git": {"command": "mcp-server-git", "approve": "ask", "allow": ["git_status"], "deny": ["git_reset"],
            "trust_annotations": true}

- `approve` is what kaiwa does with a call of this server, as a verb: `"ask"` (the default) asks you first;
  `"always"` approves every call itself (they run without a question); `"never"` approves none (every call is
  declined without a question, and the model is told). NB: the Agents SDK's `require_approval` reads the other
  way round ("always" = always require approval); kaiwa's key is `approve`, hence the verb.
- `allow`: tools that run without a question; `deny`: tools whose calls are always declined. A name may not be in
  both. Per-tool lists win over the server's `approve`.
- `trust_annotations`: a tool that declares `readOnlyHint` runs without a question. Without it (the default)
  the hint is only shown: a server's annotations are its own claim about itself.

Only the standard library is imported here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import UsageError
from ..redact import redact

Transport = Literal["stdio", "http", "sse"]
Approve = Literal["ask", "always", "never"]
APPROVE_VALUES: tuple[Approve, ...] = ("ask", "always", "never")

CONNECT_TIMEOUT = 20.0  # seconds for a server to start and answer `initialize`
CALL_TIMEOUT = 120.0  # seconds for one MCP request (a tool call can be slow: a search, a build)
START_GRACE = 3.0  # seconds a server that is starting may finish when start-up is cancelled
CLEANUP_TIMEOUT = 10.0  # the stdio client itself waits 2 s for exit, then SIGTERM, 2 s, SIGKILL

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TYPES: dict[str, Transport] = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamable_http": "http",
    "streamablehttp": "http",
    "sse": "sse",
}


def default_mcp_config_path() -> Path:
    """Where kaiwa looks for MCP servers when neither --mcp-config nor KAIWA_MCP_CONFIG says otherwise."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return Path(base or Path.home() / ".config") / "kaiwa" / "mcp.json"


@dataclass(frozen=True)
class ApprovalRule:
    """How one server's tool calls are approved (see the module's docstring)."""

    approve: Approve = "ask"
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    trust_annotations: bool = False


@dataclass(frozen=True, repr=False)
class McpServerSpec:
    """One server of the config, with `${VAR}`s already expanded. repr() shows no secret."""

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Values that must never be shown: env and header values, and everything substituted for a ${VAR}.
    secrets: tuple[str, ...] = ()
    approval: ApprovalRule = ApprovalRule()

    def __repr__(self) -> str:
        target = shlex.join([self.command, *self.args]) if self.command else str(self.url)
        return f"McpServerSpec(name={self.name!r}, transport={self.transport!r}, {self.redact(target)!r})"

    def redact(self, text: str) -> str:
        """`text` with this server's secret values, URL queries and URL passwords masked."""
        text = redact(text, *self.secrets)
        # Any query of a server URL may carry a token under a name nobody can guess: drop it whole.
        return re.sub(r"(https?://[^\s?#'\"]+)\?[^\s'\"]*", r"\1?…", text)


class _Problem(Exception):
    pass


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _Problem(f"{where} must be a string, not {type(value).__name__}")
    return value


def _string_map(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Problem(f"{where} must be an object of strings, not {type(value).__name__}")
    return {_string(k, f"a key of {where}"): _string(v, f"{where}.{k}") for k, v in value.items()}


def _names(value: object, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) and name.strip() for name in value):
        raise _Problem(f"{where} must be a list of tool names")
    return frozenset(name.strip() for name in value)


def _parse_approval(raw: dict[str, object], where: str) -> ApprovalRule:
    approve = raw.get("approve", "ask")
    if approve not in APPROVE_VALUES:
        raise _Problem(f"{where}.approve must be one of {', '.join(map(repr, APPROVE_VALUES))}, not {approve!r}")
    allow = _names(raw.get("allow", []), f"{where}.allow")
    deny = _names(raw.get("deny", []), f"{where}.deny")
    if allow & deny:
        raise _Problem(f"{where} has {', '.join(sorted(allow & deny))} in both 'allow' and 'deny'")
    trust = raw.get("trust_annotations", False)
    if not isinstance(trust, bool):
        raise _Problem(f"{where}.trust_annotations must be true or false")
    return ApprovalRule(approve=approve, allow=allow, deny=deny, trust_annotations=trust)  # type: ignore[arg-type]


def _expand(value: str, where: str, substituted: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is None or (found == "" and default is not None):
            if default is None:
                raise _Problem(f"{where} uses ${{{name}}}, which is not set in the environment")
            found = default
        substituted.append(found)
        return found

    return _VAR.sub(replace, value)


def _parse_server(name: str, raw: object) -> McpServerSpec | None:
    if not name.strip():
        raise _Problem("a server has an empty name")
    where = f"server {name!r}"
    if not isinstance(raw, dict):
        raise _Problem(f"{where} must be an object with 'command' or 'url'")
    if raw.get("disabled") is True:
        return None
    has_command, has_url = "command" in raw, "url" in raw
    if has_command == has_url:
        raise _Problem(f"{where} needs exactly one of 'command' (stdio) or 'url' (HTTP)")
    declared = raw.get("type", raw.get("transport"))
    if declared is not None:
        kind = _TYPES.get(_string(declared, f"{where}.type").lower())
        if kind is None:
            raise _Problem(f"{where}.type {declared!r} is not one of stdio, http, streamable-http, sse")
        if (kind == "stdio") != has_command:
            raise _Problem(f"{where}.type is {declared!r} but it has '{'command' if has_command else 'url'}'")
    else:
        kind = "stdio" if has_command else "http"
    approval = _parse_approval(raw, where)

    substituted: list[str] = []
    if has_command:
        command = _expand(_string(raw["command"], f"{where}.command"), f"{where}.command", substituted).strip()
        if not command:
            raise _Problem(f"{where}.command is empty")
        raw_args = raw.get("args", [])
        if not isinstance(raw_args, list):
            raise _Problem(f"{where}.args must be a list of strings")
        args = tuple(
            _expand(_string(a, f"{where}.args[{i}]"), f"{where}.args[{i}]", substituted) for i, a in enumerate(raw_args)
        )
        env = {
            k: _expand(v, f"{where}.env.{k}", substituted)
            for k, v in _string_map(raw.get("env", {}), f"{where}.env").items()
        }
        cwd = raw.get("cwd")
        if cwd is not None:
            cwd = os.path.expanduser(_expand(_string(cwd, f"{where}.cwd"), f"{where}.cwd", substituted))
        return McpServerSpec(
            name=name,
            transport="stdio",
            command=command,
            args=args,
            env=env,
            cwd=cwd,
            secrets=(*env.values(), *substituted),
            approval=approval,
        )

    url = _expand(_string(raw["url"], f"{where}.url"), f"{where}.url", substituted).strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise _Problem(f"{where}.url must start with http:// or https://")
    headers = {
        k: _expand(v, f"{where}.headers.{k}", substituted)
        for k, v in _string_map(raw.get("headers", {}), f"{where}.headers").items()
    }
    return McpServerSpec(
        name=name,
        transport=kind,
        url=url,
        headers=headers,
        secrets=(*headers.values(), *substituted),
        approval=approval,
    )


def parse_mcp_config(data: object) -> list[McpServerSpec]:
    """The servers of an already-decoded config. Raises ValueError with a one-line reason."""
    if not isinstance(data, dict):
        raise ValueError("the top level must be a JSON object with an 'mcpServers' object")
    if "mcpServers" in data and "servers" in data:
        raise ValueError("it has both 'mcpServers' and 'servers' (VS Code's name for it): keep one")
    servers = data.get("mcpServers", data.get("servers"))  # "servers" is VS Code's spelling
    if servers is None:
        nested = next((key for key, value in data.items() if isinstance(value, dict) and "servers" in value), None)
        if nested is not None:  # VS Code's settings.json keeps them under "mcp"
            raise ValueError(f"its servers are under '{nested}.servers': put them in 'mcpServers' at the top level")
        raise ValueError("no 'mcpServers' object at the top level")
    if not isinstance(servers, dict):
        raise ValueError(f"'mcpServers' must be an object of servers by name, not {type(servers).__name__}")
    specs: list[McpServerSpec] = []
    try:
        for name, raw in servers.items():
            spec = _parse_server(name, raw)
            if spec is not None:
                specs.append(spec)
    except _Problem as problem:
        raise ValueError(str(problem)) from None
    return specs


def load_mcp_config(path: Path, missing_ok: bool = False) -> list[McpServerSpec]:
    """Read and check an MCP config file; a problem raises UsageError naming the file and the problem.

    `missing_ok`: an absent file means no servers (for the default path; a path the user gave must exist).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return []
        raise UsageError(f"MCP config {path} does not exist", "check --mcp-config or KAIWA_MCP_CONFIG") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"MCP config {path} cannot be read: {error.__class__.__name__}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"MCP config {path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:  # the decoder recurses into arrays and objects: `[[[[…` thousands deep
        raise UsageError(f"MCP config {path} nests too deeply to read", "check the file is an MCP config") from None
    try:
        return parse_mcp_config(data)
    except ValueError as error:
        raise UsageError(f"MCP config {path}: {error}") from None
