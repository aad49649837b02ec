"""What a stand-in should answer next: one protocol-neutral script that every cloud stand-in renders
in its own wire format, so a test reads the same whichever cloud it drives."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = "call_1"


@dataclass
class Reply:
    """One model answer (or one failure) in protocol-neutral terms."""

    text: str = "ok"
    chunks: int = 3  # the text is streamed in about this many pieces
    tool_calls: list[ToolCall] = field(default_factory=list)
    thinking: str | None = None  # reasoning text, sent before the answer
    signature: str | None = None  # signature of the thinking block (Anthropic, Bedrock, Gemini)
    status: int = 200  # non-200: answer with the cloud's own error body for this status
    error_message: str = "stand-in error"
    delay: float = 0.0  # seconds before the first byte
    chunk_delay: float = 0.0  # seconds between streamed pieces
    cut_after: int | None = None  # close the connection after this many pieces, mid-stream
    stall_after: int | None = None  # go silent after this many pieces, for `stall` seconds, then go on
    stall: float = 0.0
    stop: str | None = None  # "length": the answer stopped at its output limit (each cloud's own stop reason)
    # None: the stand-in counts the request's tokens (and runs its prompt cache, where the cloud has one);
    # a number: reported as scripted (with `cached_tokens`), the cache's own figures left aside.
    input_tokens: int | None = None
    output_tokens: int = 7
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    def scripted_input(self) -> int:
        """The input tokens of a stand-in that does not count them (OpenAI-compatible ones)."""
        return 11 if self.input_tokens is None else self.input_tokens

    def capped(self, limit: int | None) -> Reply:
        """The reply as a cloud gives it under an output limit of `limit` tokens: cut at about 4 characters a
        token, with the cloud's "length" stop, when it would run longer."""
        if limit is None or self.output_tokens <= limit or self.tool_calls:
            return self
        return replace(self, text=self.text[: max(1, limit * 4)], output_tokens=limit, stop="length")

    def text_pieces(self) -> list[str]:
        if not self.text:
            return []
        n = max(1, min(self.chunks, len(self.text)))
        size = -(-len(self.text) // n)
        return [self.text[i : i + size] for i in range(0, len(self.text), size)]


@dataclass
class Recorded:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON when it was JSON, else the raw bytes
    raw: bytes = field(default=b"", repr=False)  # the body exactly as sent (signatures hash these bytes)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


# Faults a test asks for in the user's message, each played ONCE per marker (the retry then succeeds):
#   [[cut:N#id]]         close the connection after N pieces of the answer
#   [[stall:S#id]]       go silent for S seconds after the first piece of text
#   [[cut-after-tool#id]] cut (after a piece of text) the request that follows a tool result
MARKER = re.compile(r"\[\[(cut|stall|cut-after-tool)(?::([\d.]+))?(?:#([\w-]+))?\]\]")


class Faults:
    """The markers a stand-in has already played (a marker plays once, so kaiwa's retry meets a healthy stream)."""

    def __init__(self) -> None:
        self.fired: set[str] = set()

    def apply(self, reply: Reply, user_text: str, after_tool: bool) -> Reply:
        for match in MARKER.finditer(user_text):
            kind, number, marker = match.group(1), match.group(2), match.group(0)
            if marker in self.fired or (kind == "cut-after-tool") != after_tool:
                continue
            self.fired.add(marker)
            if kind == "cut":
                return replace(reply, cut_after=int(float(number or 1)))
            if kind == "stall":
                return replace(reply, stall_after=2, stall=float(number or 5))
            return replace(reply, cut_after=2)
        return reply
