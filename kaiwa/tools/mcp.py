"""MCP servers connected for the length of a session (the config is read by `mcp_config.py`).

A server that fails to start is one warning line and kaiwa goes on without it; every connected server is
cleaned up on every exit path. Only the standard library is imported at module level.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import IO, TYPE_CHECKING, Any, TextIO

from .approval import ApprovalPolicy
from .mcp_config import CALL_TIMEOUT, CLEANUP_TIMEOUT, CONNECT_TIMEOUT, START_GRACE, McpServerSpec

if TYPE_CHECKING:
    from agents.mcp import MCPServer

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


def read_only_hint(tool: Any) -> bool | None:
    """An MCP tool's `readOnlyHint`, if it declares one (the mcp package spells it either way by version)."""
    annotations = getattr(tool, "annotations", None)
    hint = getattr(annotations, "read_only_hint", getattr(annotations, "readOnlyHint", None))
    return hint if isinstance(hint, bool) else None


def input_schema(tool: Any) -> dict[str, Any] | None:
    """An MCP tool's input schema (the mcp package spells it either way by version)."""
    schema = getattr(tool, "input_schema", None) or getattr(tool, "inputSchema", None)
    return schema if isinstance(schema, dict) else None


def _requires_approval(policy: ApprovalPolicy, server: str) -> Callable[[Any, Any, Any], bool]:
    """The SDK's `require_approval` for one server: asked at every call, so a grant (`a`) counts from the next
    call on. Declined calls need "approval" too: the engine rejects them through the SDK without a question."""

    def requires(_context: Any, _agent: Any, tool: Any) -> bool:
        return policy.verdict(server, tool.name, read_only_hint(tool)).action != "run"

    return requires


def _build_server(
    spec: McpServerSpec,
    errlog: TextIO,
    call_timeout: float,
    statuses: list[str],
    policy: ApprovalPolicy,
    left_out: list[str],
) -> MCPServer:
    from agents.mcp import MCPServerSse, MCPServerStdio, MCPServerStreamableHttp
    from mcp.client.stdio import stdio_client

    common: dict[str, Any] = {
        "name": spec.name,
        "cache_tools_list": True,  # tools rarely change mid-session; saves a round trip per model call
        "client_session_timeout_seconds": call_timeout,
        "require_approval": _requires_approval(policy, spec.name),
        # The SDK's own filter, read at every listing: filled once every server has listed its tools
        # (`_leave_out_clashes`), with the names an earlier claimant keeps.
        "tool_filter": {"blocked_tool_names": left_out},
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


async def _leave_out_clashes(
    servers: Sequence[tuple[MCPServer, list[str]]], reserved: Collection[str], warn: Callable[[str], None]
) -> None:
    """Apply `mcp_names.left_out` to the connected servers (in the config's order): each loses the tool names an
    earlier claimant holds, in one line. A server that cannot list its tools now is left to the turn to report."""
    from .mcp_names import left_out

    listed: list[tuple[str, list[str]]] = []
    for server, _ in servers:
        with contextlib.suppress(Exception):
            listed.append((server.name, [tool.name for tool in await server.list_tools()]))
    lost, lines = left_out(reserved, listed)
    for server, blocked in servers:
        blocked.extend(lost.get(server.name, []))
    for line in lines:
        warn(line)


@contextlib.asynccontextmanager
async def connected_mcp_servers(
    specs: Sequence[McpServerSpec],
    warn: Callable[[str], None],
    *,
    connect_timeout: float = CONNECT_TIMEOUT,
    call_timeout: float = CALL_TIMEOUT,
    server_stderr: TextIO | None = None,
    policy: ApprovalPolicy | None = None,
    reserved: Collection[str] = (),
) -> AsyncIterator[list[MCPServer]]:
    """Connect every server (concurrently, each within `connect_timeout`) and yield those that started.

    A server that fails is reported as ONE line through `warn` ("MCP server 'x' did not start: reason") and
    left out. On leaving the block, normally, by an exception or by cancellation (Ctrl-C), every server is
    cleaned up (stdio children are stopped). `server_stderr`: where stdio servers' stderr goes (for --debug);
    by default a temporary file, whose last line explains a failed start. `policy`: which calls need approval
    (by default mcp.json's rules alone: calls not allowed there ask). `reserved`: the built-in tools' names; a
    server's tool of a name already taken is left out, in one line (`mcp_names.py`).
    """
    if policy is None:
        policy = ApprovalPolicy({spec.name: spec.approval for spec in specs})
    async with contextlib.AsyncExitStack() as stack:
        entries: list[tuple[McpServerSpec, MCPServer, IO[str] | None, list[str]]] = []
        left_out: dict[str, list[str]] = {}
        for spec in specs:
            log: IO[str] | None = None
            if spec.transport == "stdio" and server_stderr is None:
                # Closed by the exit stack, after the servers (so a cleanup can still write to it).
                log = stack.enter_context(
                    tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace", prefix="kaiwa-mcp-")  # noqa: SIM115
                )
            statuses: list[str] = []
            try:
                left_out[spec.name] = []
                server = _build_server(spec, server_stderr or log, call_timeout, statuses, policy, left_out[spec.name])  # type: ignore[arg-type]
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
        connected = [entry[1] for entry, task in zip(entries, tasks, strict=True) if task.result()]
        await _leave_out_clashes([(server, left_out[server.name]) for server in connected], reserved, warn)
        yield connected
