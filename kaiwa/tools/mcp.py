"""MCP servers from a config file in the format other MCP clients use, connected for the length of a session.

    {"mcpServers": {
        "words": {"command": "python", "args": ["server.py"], "env": {"API_KEY": "${WORDS_KEY}"}},
        "remote": {"url": "https://example.test/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}
    }}

`${VAR}` and `${VAR:-default}` are expanded from the environment in command, args, env, cwd, url and headers.
A server that fails to start is one warning line and kaiwa goes on without it; every connected server is
cleaned up on every exit path. Only the standard library is imported at module level.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TextIO

from ..errors import UsageError

if TYPE_CHECKING:
    from agents.mcp import MCPServer

Transport = Literal["stdio", "http", "sse"]

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

    def __repr__(self) -> str:
        target = shlex.join([self.command, *self.args]) if self.command else str(self.url)
        return f"McpServerSpec(name={self.name!r}, transport={self.transport!r}, {self.redact(target)!r})"

    def redact(self, text: str) -> str:
        """`text` with this server's secret values, URL queries and URL passwords masked."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= 3:
                text = text.replace(secret, "***")
        text = re.sub(r"(\w+://)[^/\s@]+@", r"\1***@", text)
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
        )

    url = _expand(_string(raw["url"], f"{where}.url"), f"{where}.url", substituted).strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise _Problem(f"{where}.url must start with http:// or https://")
    headers = {
        k: _expand(v, f"{where}.headers.{k}", substituted)
        for k, v in _string_map(raw.get("headers", {}), f"{where}.headers").items()
    }
    return McpServerSpec(name=name, transport=kind, url=url, headers=headers, secrets=(*headers.values(), *substituted))


def parse_mcp_config(data: object) -> list[McpServerSpec]:
    """The servers of an already-decoded config. Raises ValueError with a one-line reason."""
    if not isinstance(data, dict):
        raise ValueError("the top level must be a JSON object with an 'mcpServers' object")
    servers = data.get("mcpServers", data.get("servers"))  # "servers" is VS Code's spelling
    if servers is None:
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
    try:
        return parse_mcp_config(data)
    except ValueError as error:
        raise UsageError(f"MCP config {path}: {error}") from None


# ---------------------------------------------------------------------------------------------------------------
# Connecting


def _leaf_errors(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaf_errors(inner)]
    return [error]


def _reason(
    error: BaseException, spec: McpServerSpec, stderr_tail: str, timeout: float, statuses: Sequence[str] = ()
) -> str:
    """One short line saying why a server did not start (no traceback, secrets masked)."""
    leaves = _leaf_errors(error)
    first = next((e for e in leaves if not isinstance(e, asyncio.CancelledError)), leaves[0])
    if isinstance(first, TimeoutError):
        reason = f"no answer within {timeout:g} s"
    elif isinstance(first, FileNotFoundError) and spec.transport == "stdio":
        reason = f"command not found: {spec.command}"
    elif isinstance(first, PermissionError) and spec.transport == "stdio":
        reason = f"command not executable: {spec.command}"
    else:
        text = " ".join(str(first).split()) or type(first).__name__
        cause = first.__cause__
        if cause is not None and str(cause) and str(cause) not in text:
            text = f"{text} ({' '.join(str(cause).split())})"
        reason = text
    if statuses:
        reason = f"{statuses[-1]} ({reason})"
    if stderr_tail:
        reason = f"{reason}; its stderr: {stderr_tail}"
    reason = spec.redact(reason)
    return reason if len(reason) <= 240 else reason[:239] + "…"


def _tail(log: IO[str] | None) -> str:
    """The last non-empty line a failed stdio server wrote to stderr (often the one that says why)."""
    if log is None:
        return ""
    try:
        log.flush()
        log.seek(0)
        lines = [line.strip() for line in log.read()[-4000:].splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    return lines[-1][:160] if lines else ""


def _http_client_factory(statuses: list[str]) -> Callable[..., Any]:
    """The SDK's default HTTP client, plus a hook that records error statuses: the MCP client turns a 401
    into "Server returned an error response", and the status is what tells the user to fix a token."""

    def factory(headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None) -> Any:
        import httpx2

        async def record(response: Any) -> None:
            if response.status_code >= 400:
                statuses.append(f"HTTP {response.status_code} {response.reason_phrase}".strip())

        kwargs: dict[str, Any] = {"follow_redirects": False, "event_hooks": {"response": [record]}}
        if headers is not None:
            kwargs["headers"] = headers
        if timeout is not None:
            kwargs["timeout"] = timeout
        if auth is not None:
            kwargs["auth"] = auth
        return httpx2.AsyncClient(**kwargs)

    return factory


def _build_server(spec: McpServerSpec, errlog: TextIO, call_timeout: float, statuses: list[str]) -> MCPServer:
    from agents.mcp import MCPServerSse, MCPServerStdio, MCPServerStreamableHttp
    from mcp.client.stdio import stdio_client

    common: dict[str, Any] = {
        "name": spec.name,
        "cache_tools_list": True,  # tools rarely change mid-session; saves a round trip per model call
        "client_session_timeout_seconds": call_timeout,
    }
    if spec.transport == "stdio":

        class _Stdio(MCPServerStdio):
            # The SDK sends the child's stderr to ours; kaiwa keeps it out of the chat (and reads its tail
            # when the server fails to start).
            def create_streams(self) -> Any:
                return stdio_client(self.params, errlog=errlog)

        assert spec.command is not None
        params: dict[str, Any] = {"command": spec.command, "args": list(spec.args), "env": dict(spec.env)}
        if spec.cwd:
            params["cwd"] = spec.cwd
        return _Stdio(params=params, **common)  # type: ignore[arg-type]
    assert spec.url is not None
    http: dict[str, Any] = {
        "url": spec.url,
        "headers": dict(spec.headers),
        "timeout": 30.0,
        "httpx_client_factory": _http_client_factory(statuses),
    }
    if spec.transport == "sse":
        return MCPServerSse(params=http, **common)  # type: ignore[arg-type]
    return MCPServerStreamableHttp(params=http, **common)  # type: ignore[arg-type]


async def _cleanup(server: MCPServer, warn: Callable[[str], None], spec: McpServerSpec) -> None:
    try:
        async with asyncio.timeout(CLEANUP_TIMEOUT):
            await server.cleanup()
    except Exception as error:  # a failing shutdown must not hide the session's own outcome
        warn(f"MCP server {spec.name!r} did not shut down cleanly: {_reason(error, spec, '', CLEANUP_TIMEOUT)}")


@contextlib.asynccontextmanager
async def connected_mcp_servers(
    specs: Sequence[McpServerSpec],
    warn: Callable[[str], None],
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    call_timeout: float = CALL_TIMEOUT,
    server_stderr: TextIO | None = None,
) -> AsyncIterator[list[MCPServer]]:
    """Connect every server (concurrently, each within `connect_timeout`) and yield those that started.

    A server that fails is reported as ONE line through `warn` ("MCP server 'x' did not start: reason") and
    left out. On leaving the block, normally, by an exception or by cancellation (Ctrl-C), every server is
    cleaned up (stdio children are stopped). `server_stderr`: where stdio servers' stderr goes (for --debug);
    by default a temporary file, whose last line explains a failed start.
    """
    async with contextlib.AsyncExitStack() as stack:
        entries: list[tuple[McpServerSpec, MCPServer, IO[str] | None, list[str]]] = []
        for spec in specs:
            log: IO[str] | None = None
            if spec.transport == "stdio" and server_stderr is None:
                # Closed by the exit stack, after the servers (so a cleanup can still write to it).
                log = stack.enter_context(
                    tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace", prefix="kaiwa-mcp-")  # noqa: SIM115
                )
            statuses: list[str] = []
            try:
                server = _build_server(spec, server_stderr or log, call_timeout, statuses)  # type: ignore[arg-type]
            except Exception as error:
                warn(f"MCP server {spec.name!r} did not start: {_reason(error, spec, '', connect_timeout)}")
                continue
            # Registered before connecting: a server that connects while a sibling's start is cancelled is
            # still cleaned up (cleanup of a server that never connected does nothing).
            stack.push_async_callback(_cleanup, server, warn, spec)
            entries.append((spec, server, log, statuses))

        async def connect(spec: McpServerSpec, server: MCPServer, log: IO[str] | None, statuses: list[str]) -> bool:
            try:
                async with asyncio.timeout(connect_timeout):
                    await server.connect()
                return True
            except Exception as error:
                reason = _reason(error, spec, _tail(log), connect_timeout, statuses)
                warn(f"MCP server {spec.name!r} did not start: {reason}")
                return False

        tasks = [asyncio.create_task(connect(*entry)) for entry in entries]
        try:
            if tasks:
                await asyncio.wait(tasks)  # unlike gather, a cancelled wait leaves the starts running
        except asyncio.CancelledError:
            # Ctrl-C during start-up. Cancelling the SDK's connect() at the moment a server is almost up
            # can leave its child running until kaiwa exits (seen with openai-agents 0.24), so give
            # starts in flight a short grace to finish (the exit stack then stops them cleanly).
            pending = [task for task in tasks if not task.done()]
            if pending:
                await asyncio.wait(pending, timeout=START_GRACE)
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        yield [entry[1] for entry, task in zip(entries, tasks, strict=True) if task.result()]
