"""What a request to the upstream (Chat Completions) or a stored conversation says, read the same way by every
test."""

from __future__ import annotations

from typing import Any


def said(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) of each non-system message: a request's `messages`, or stored message items."""
    out = []
    for m in messages:
        if m["role"] == "system":
            continue
        content = m.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
        out.append((m["role"], text))
    return out


def user_texts(body: dict[str, Any]) -> list[str]:
    return [
        m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
        for m in body["messages"]
        if m["role"] == "user"
    ]


def system_text(body: dict[str, Any]) -> str:
    return "".join(m["content"] for m in body["messages"] if m["role"] == "system")


def tool_messages(body: dict[str, Any]) -> dict[str, str]:
    """tool_call_id -> text of every tool message in a Chat Completions request."""
    out: dict[str, str] = {}
    for m in body["messages"]:
        if m["role"] == "tool":
            content = m["content"]
            if not isinstance(content, str):
                content = " ".join(part.get("text", "") for part in content)
            out[m["tool_call_id"]] = content
    return out
