"""A loopback HTTP server in a daemon thread, the base of every cloud stand-in."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from .script import Faults, Recorded, Reply


class StandIn:
    """Base class: subclasses implement `handle(req, handler)` in their cloud's protocol.

    A test scripts the next answers with `script(...)`; with nothing scripted the stand-in answers
    `Reply()` ("ok"). Every request is recorded in `requests`, and `rejections` lists the protocol
    rules a request broke (the stand-in answered with the real service's error for them).
    """

    name = "stand-in"

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.rejections: list[str] = []
        self.faults = Faults()  # markers in a request's user message: cut, stall (script.py)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                return

            def _dispatch(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                rec = Recorded(self.command, self.path, dict(self.headers.items()), body, raw)
                with stand_in._lock:
                    stand_in.requests.append(rec)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    stand_in.handle(rec, self)

            do_GET = _dispatch
            do_POST = _dispatch

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        # A short poll interval: stop() waits for the next poll, which otherwise costs 0.5 s per stand-in.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self.requests.clear()
            self.rejections.clear()
            self.faults.fired.clear()

    def next_reply(self) -> Reply:
        with self._lock:
            return self._replies.popleft() if self._replies else Reply()

    def model_requests(self) -> list[Recorded]:
        """The requests that asked the model for an answer (not token or health calls)."""
        return [r for r in self.requests if r.method == "POST" and isinstance(r.body, dict)]

    # -- helpers for subclasses -------------------------------------------------------------
    def handle(self, req: Recorded, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def send_json(h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def start_stream(h: BaseHTTPRequestHandler, content_type: str, chunked: bool = False) -> None:
        # No Content-Length: the body ends when the connection closes, as a cut stream would. `chunked`: in
        # chunks, as OpenAI sends it, so a cut (no closing chunk) is a body that was never completed.
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Connection", "close")
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.close_connection = True

    @staticmethod
    def chunk(data: bytes) -> bytes:
        """`data` as one chunk of a chunked body (b"" closes the body)."""
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    @staticmethod
    def pieces_paused(reply: Reply, n: int) -> float:
        """The pause before piece `n` of a streamed reply: its chunk delay, or the stall it was told to make."""
        if reply.stall_after is not None and n == reply.stall_after:
            return reply.stall
        return reply.chunk_delay if n else 0.0

    @staticmethod
    def write(h: BaseHTTPRequestHandler, data: bytes, pause: float = 0.0) -> None:
        if pause:
            time.sleep(pause)
        h.wfile.write(data)
        h.wfile.flush()

    def reject(self, h: BaseHTTPRequestHandler, status: int, payload: Any, rule: str) -> None:
        """Refuse a request that breaks a protocol rule, as the real service does."""
        with self._lock:
            self.rejections.append(rule)
        self.send_json(h, status, payload)
