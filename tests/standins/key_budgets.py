"""LiteLLM's virtual keys, in front of the real proxy: the part of the proxy that needs its database (Prisma, which
cannot be set up here), played as LiteLLM 1.106.2 plays it, so kaiwa's handling of a key's budget can be tested.

Each virtual key has a `spend` and a `max_budget`. `GET /key/info` answers for the calling key
(`{"key": <hash>, "info": {"spend", "max_budget", …}}`); a key whose spend has reached its budget is refused with
LiteLLM's own error (`type: budget_exceeded`, HTTP 422: `litellm.budget_exceeded_status_code` in 1.106.2, with the
message its `auth_checks` writes); every other request goes on to the real proxy with the master key, streamed
through byte for byte. A key it does not know is passed on unchanged (the proxy then refuses it as it would).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

BUDGET_STATUS = 422


@dataclass
class VirtualKey:
    spend: float = 0.0
    max_budget: float | None = None


class KeyBudgets:
    def __init__(self, proxy_url: str, master_key: str) -> None:
        parts = urlsplit(proxy_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.master_key = master_key
        self.keys: dict[str, VirtualKey] = {}
        self.forwarded: list[str] = []  # the paths passed on to the proxy
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                return

            def _dispatch(self) -> None:
                front.handle(self)

            do_GET = _dispatch
            do_POST = _dispatch

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what the proxy does with a virtual key -----------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        key = (h.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        virtual = self.keys.get(key)
        path = h.path.split("?", 1)[0]
        if virtual is not None and path == "/key/info":
            info = {"spend": virtual.spend, "max_budget": virtual.max_budget, "budget_reset_at": None}
            self._json(h, 200, {"key": hashlib.sha256(key.encode()).hexdigest(), "info": info})
            return
        if virtual is not None and virtual.max_budget is not None and virtual.spend >= virtual.max_budget:
            message = (
                f"Budget has been exceeded! Key={hashlib.sha256(key.encode()).hexdigest()[:8]}… "
                f"Current cost: {virtual.spend}, Max budget: {virtual.max_budget}"
            )
            error = {"message": message, "type": "budget_exceeded", "param": None, "code": str(BUDGET_STATUS)}
            self._json(h, BUDGET_STATUS, {"error": error})
            return
        self.forwarded.append(path)
        self._forward(h, body, self.master_key if virtual is not None else key)

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes, key: str) -> None:
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "authorization", "content-length")}
        headers["Authorization"] = f"Bearer {key}"
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            conn.request(h.command, h.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            h.send_response(resp.status)
            for name, value in resp.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    h.send_header(name, value)
            h.send_header("Connection", "close")
            h.end_headers()
            h.close_connection = True
            while chunk := resp.read1(65536):
                h.wfile.write(chunk)
                h.wfile.flush()
        finally:
            conn.close()

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
