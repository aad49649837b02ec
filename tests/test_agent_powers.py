"""Agent powers (issue 5) end to end: chat.py as a subprocess, the REAL LiteLLM proxy, a scripted
OpenAI-compatible upstream. Tools (built-in and MCP), reasoning, usage and cost, the proxy seeing sessions."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import Kaiwa
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall


def tool_messages(body: dict[str, Any]) -> dict[str, str]:
    """tool_call_id -> content of every tool message the upstream received."""
    out: dict[str, str] = {}
    for m in body["messages"]:
        if m["role"] == "tool":
            content = m["content"]
            out[m["tool_call_id"]] = content if isinstance(content, str) else json.dumps(content)
    return out


def test_builtin_calculator_round_trip(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "2**100"}, "call_calc")]),
        Reply(text="2**100 is 1267650600228229401496703205376."),
    )
    run = kaiwa("--input", "what is 2**100 exactly?")
    print(run.err)
    for r in upstream.model_requests():
        print(json.dumps(r.body, indent=1)[:3000])
    assert run.code == 0, run.err
