"""A real MCP server over streamable HTTP on 127.0.0.1 (ephemeral port) for kaiwa's tests.

In a test: `with running_http_server(token="…") as url:` (a daemon thread; stops when the block ends or the
process exits). As a process: `python http_server.py [--token T] [--sse]` prints the URL on its first stdout line and
serves until its stdin closes (so it dies with its parent).

Tools: `reverse_text(text)` and `count_letters(text, letter)`, outputs marked "[http-fixture]". With a token, any
request without `Authorization: Bearer <token>` gets 401.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MARK = "[http-fixture]"


def build_app(token: str | None = None, transport: str = "streamable-http") -> Any:
    from mcp.server.mcpserver import MCPServer
    from starlette.responses import PlainTextResponse

    server = MCPServer("http-fixture", log_level="WARNING")

    @server.tool()
    def reverse_text(text: str) -> str:
        """Reverse a piece of text."""
        return f"{MARK} {text[::-1]}"

    @server.tool()
    def count_letters(text: str, letter: str) -> str:
        """Count how many times a letter occurs in a text (case-insensitive)."""
        return f"{MARK} {text.lower().count(letter.lower())}"

    # SSE: the older HTTP+SSE transport, which some configs still list.
    app = server.sse_app(host="127.0.0.1") if transport == "sse" else server.streamable_http_app(host="127.0.0.1")
    if token is None:
        return app

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await PlainTextResponse("missing or wrong bearer token", status_code=401)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


@contextmanager
def running_http_server(token: str | None = None, transport: str = "streamable-http") -> Iterator[str]:
    """Serve the fixture in a daemon thread; yields its URL (http://127.0.0.1:PORT/mcp, or /sse for SSE)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_app(token, transport), log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="mcp-http")
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("the MCP HTTP fixture did not start")
        yield f"http://127.0.0.1:{port}/{'sse' if transport == 'sse' else 'mcp'}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main() -> None:
    token = sys.argv[sys.argv.index("--token") + 1] if "--token" in sys.argv else None
    with running_http_server(token, "sse" if "--sse" in sys.argv else "streamable-http") as url:
        print(url, flush=True)
        sys.stdin.read()  # EOF when the parent exits or closes the pipe


if __name__ == "__main__":
    main()
