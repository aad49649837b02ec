"""Run the LiteLLM proxy for kaiwa's local gateway behind a key check: `python proxy/serve_proxy.py <litellm args>`.

LiteLLM 1.106.2 without a database answers a request with a missing or wrong key by looking for its database
client (`No module named 'prisma'`): an 11.5 KB traceback in the log and a 500 for every such request, which any
user of the machine can send to 127.0.0.1. None of its settings (`general_settings`) skips that path, so this
launcher puts a small ASGI check in front of LiteLLM's app: a request without the master key gets a quiet 401
and never reaches LiteLLM. An authenticated request marks the gateway as used (the supervisor stops it when it
has not been used for a while), so strangers' requests cannot keep it running.
Only the health probes kaiwa uses before it has a key (`/health/liveliness`, `/health/readiness`) pass without.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

OPEN_PATHS = frozenset({"/health/liveliness", "/health/readiness"})
TOUCH_EVERY = 5.0  # seconds: one utime per burst of requests is enough for a stop measured in minutes
REFUSAL = json.dumps(
    {"error": {"message": "missing or wrong key for kaiwa's local gateway", "type": "auth_error", "code": "401"}}
).encode()


def _presented_key(headers: list[tuple[bytes, bytes]]) -> bytes:
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
        if lowered == b"x-litellm-api-key":
            return value.strip()
    return b""


async def _drain(receive: Any, limit: int = 2**20) -> None:
    """Read (and drop) a refused request's body: a server that closes with unread bytes makes the kernel reset the
    connection, and the client sees no 401 at all. Past `limit` bytes it stops; the connection then closes."""
    seen = 0
    while seen <= limit:
        event = await receive()
        seen += len(event.get("body", b""))
        if event.get("type") != "http.request" or not event.get("more_body"):
            return


class KeyCheck:
    """ASGI middleware: only requests that carry the master key reach LiteLLM."""

    def __init__(self, app: Any, key: str, last_used: Path | None) -> None:
        self.app, self.key, self.last_used = app, key.encode(), last_used
        self.touched = 0.0

    def _mark_used(self) -> None:
        now = time.monotonic()
        if self.last_used is None or now - self.touched < TOUCH_EVERY:
            return
        self.touched = now
        with contextlib.suppress(OSError):
            os.utime(self.last_used)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if not hmac.compare_digest(_presented_key(scope.get("headers") or []), self.key):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await _drain(receive)
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(REFUSAL)).encode())]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": REFUSAL})
            return
        self._mark_used()
        await self.app(scope, receive, send)


def main() -> None:
    import sys

    key = os.environ.get("LITELLM_MASTER_KEY", "")
    if not key:
        sys.exit("serve_proxy: LITELLM_MASTER_KEY is not set")
    raw = os.environ.pop("KAIWA_GATEWAY_LAST_USED", "")
    import litellm.proxy.proxy_server as proxy_server
    from litellm.proxy.proxy_cli import run_server

    # LiteLLM's CLI hands uvicorn the string "litellm.proxy.proxy_server:app" (one worker, this process), which
    # uvicorn looks up on the module: the wrapped app is what it serves.
    proxy_server.app = KeyCheck(proxy_server.app, key, Path(raw) if raw else None)  # type: ignore[assignment]
    run_server.main(args=sys.argv[1:], prog_name="litellm")


if __name__ == "__main__":
    main()
