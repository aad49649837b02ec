"""The protocol's own stdout, and a reader that answers lines that are not JSON-RPC.

stdout carries only the protocol: the real stdout is duplicated for it, and fd 1 (with `sys.stdout`) is pointed at
stderr, so a stray print, a library's warning or a child process (an MCP server, the local gateway) cannot break
the stream. Lines are read here before the SDK sees them: the SDK drops a line that is not JSON without a word, and
stops serving on one that is JSON but not an object; here either gets its JSON-RPC error and the agent goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

LIMIT = 50 * 1024 * 1024  # a message with images: the SDK's own default buffer


def take_stdout() -> int:
    """A private copy of stdout for the protocol; fd 1 and `sys.stdout` go to stderr from now on."""
    sys.stdout.flush()
    protocol = os.dup(1)
    os.set_inheritable(protocol, False)  # children (MCP servers, the gateway) never get the protocol's stream
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


def _error(code: int, message: str, request_id: Any = None) -> bytes:
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return (json.dumps(body) + "\n").encode()


def vet(line: bytes) -> bytes | None:
    """None when `line` may go on to the SDK; else the JSON-RPC error to answer it with."""
    try:
        message = json.loads(line)
    except ValueError:  # UnicodeDecodeError too: bytes that are not UTF-8
        return _error(-32700, "Parse error: the line is not JSON")
    except RecursionError:  # nested deeper than the reader goes: left unanswered, it stopped the reader for good
        return _error(-32700, "Parse error: the message is nested too deeply")
    if not isinstance(message, dict):
        return _error(-32600, "Invalid Request: a JSON-RPC message is an object")
    method = message.get("method")
    if "method" in message and not isinstance(method, str):
        return _error(-32600, "Invalid Request: method is not a string", message.get("id"))
    return None


async def _skip_line(reader: asyncio.StreamReader) -> None:
    """Drop what is left of an over-long line."""
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as over:
            await reader.readexactly(over.consumed)
        except asyncio.IncompleteReadError:
            return


async def streams(protocol_fd: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """(what the SDK reads, where it writes): stdin filtered through `vet`, the protocol's stdout."""
    loop = asyncio.get_running_loop()
    raw = asyncio.StreamReader(limit=LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(raw), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(), os.fdopen(protocol_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)  # type: ignore[arg-type]
    vetted = asyncio.StreamReader(limit=LIMIT)

    async def pump() -> None:
        while True:
            try:
                line = await raw.readuntil(b"\n")
            except asyncio.IncompleteReadError as partial:
                line = partial.partial
            except asyncio.LimitOverrunError:
                await _skip_line(raw)
                writer.write(_error(-32600, "Invalid Request: the message is over 50 MB"))
                continue
            if not line:
                vetted.feed_eof()
                return
            if line.strip() and (answer := vet(line)) is not None:
                writer.write(answer)  # one whole line: never interleaved with the SDK's own writes
                continue
            vetted.feed_data(line)

    task = loop.create_task(pump())
    _PUMPS.add(task)
    task.add_done_callback(_PUMPS.discard)
    return vetted, writer


_PUMPS: set[asyncio.Task[None]] = set()
