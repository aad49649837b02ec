"""A real ACP client for the tests: the protocol's own Python SDK (`connect_to_agent`) talking to `chat.py acp`
spawned as a subprocess, with every line the agent writes on stdout kept (`lines`) so a test can check that stdout
held nothing but JSON-RPC, and raw lines written to its stdin for malformed requests."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import acp
from acp import schema as s

from tests.conftest import Kaiwa


@dataclass
class Recorder:
    """The client side: records updates by session, answers permission requests from `answers` (option ids, in
    order); with none left, the request waits (`asked` is set) until the turn is cancelled."""

    updates: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    answers: list[str] = field(default_factory=list)
    requests: list[s.RequestPermissionRequest] = field(default_factory=list)
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    chunk: asyncio.Event = field(default_factory=asyncio.Event)

    async def request_permission(self, options: list[Any], session_id: str, tool_call: Any,
                                 **kwargs: Any) -> s.RequestPermissionResponse:  # fmt: skip
        self.requests.append(s.RequestPermissionRequest(options=options, session_id=session_id, tool_call=tool_call))
        self.asked.set()
        if not self.answers:
            await asyncio.Event().wait()  # never answered: the prompt is cancelled meanwhile
        return s.RequestPermissionResponse(outcome=s.AllowedOutcome(outcome="selected", option_id=self.answers.pop(0)))

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates[session_id].append(update)
        if isinstance(update, s.AgentMessageChunk):
            self.chunk.set()

    def kinds(self, session_id: str) -> list[str]:
        return [u.session_update for u in self.updates[session_id]]

    def text(self, session_id: str, kind: str = "agent_message_chunk") -> str:
        return "".join(u.content.text for u in self.updates[session_id]
                       if u.session_update == kind and isinstance(u.content, s.TextContentBlock))  # fmt: skip


@dataclass
class Agent:
    conn: Any
    process: asyncio.subprocess.Process
    client: Recorder
    lines: list[bytes]
    raw: dict[Any, dict[str, Any]]  # what the agent answered, by request id (including ids the SDK never sent)

    async def write(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        await self.process.stdin.drain()

    async def answer_to(self, request_id: Any, timeout: float = 60) -> dict[str, Any]:
        for _ in range(int(timeout * 20)):
            if request_id in self.raw:
                return self.raw.pop(request_id)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no answer to request {request_id!r}")

    def stdout_is_only_protocol(self) -> None:
        for line in self.lines:
            message = json.loads(line)
            assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", line


@asynccontextmanager
async def spawn(kaiwa: Kaiwa, *args: str, **env: str) -> AsyncIterator[Agent]:
    """`chat.py acp` with the test's isolated settings; stdout is checked to hold only protocol lines."""
    process = await asyncio.create_subprocess_exec(
        *kaiwa.command("acp", *args), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=kaiwa.home, env={**kaiwa.env, **env}, limit=50 * 1024 * 1024,
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    lines: list[bytes] = []
    raw: dict[Any, dict[str, Any]] = {}
    tee = asyncio.StreamReader(limit=50 * 1024 * 1024)

    async def pump() -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            lines.append(line)
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict) and "method" not in message:
                raw[message.get("id")] = message
            tee.feed_data(line)
        tee.feed_eof()

    pumping = asyncio.create_task(pump())
    client = Recorder()
    conn = acp.connect_to_agent(client, process.stdin, tee)
    agent = Agent(conn, process, client, lines, raw)
    try:
        yield agent
    finally:
        await conn.close()
        if process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        await pumping
    agent.stdout_is_only_protocol()
    assert process.returncode == 0, (process.returncode, (await process.stderr.read()).decode()[-2000:])  # type: ignore[union-attr]


async def initialized(agent: Agent) -> s.InitializeResponse:
    return await agent.conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
