"""A long conversation as kaiwa stores it, for tests and benches of long histories."""

from __future__ import annotations

import json
from typing import Any


def history_items(n: int) -> list[dict[str, Any]]:
    """`n` items as a long tool-using, reasoning conversation stores them: user message, reasoning (with its
    encrypted content), function call, its output, assistant message — repeated."""
    items: list[dict[str, Any]] = []
    i = 0
    while len(items) < n:
        call = f"call_{i:06d}"
        turn = [
            {"role": "user", "content": f"question {i}: what time is it in Tokyo, and what is {i} * 17?"},
            {
                "id": f"rs_{i:06d}",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": f"The user asks for the time and {i} * 17."}],
                "encrypted_content": "gAAAAB" + "x" * 160,
            },
            {
                "arguments": json.dumps({"expression": f"{i} * 17"}),
                "call_id": call,
                "name": "calculate",
                "type": "function_call",
                "id": f"fc_{i:06d}",
                "status": "completed",
            },
            {"call_id": call, "output": str(i * 17), "type": "function_call_output"},
            {
                "id": f"msg_{i:06d}",
                "content": [
                    {
                        "annotations": [],
                        "text": f"It is 10:{i % 60:02d} in Tokyo, and {i} × 17 = {i * 17}.",
                        "type": "output_text",
                        "logprobs": [],
                    }
                ],
                "role": "assistant",
                "status": "completed",
                "type": "message",
            },
        ]
        items.extend(turn)
        i += 1
    return items[:n]
