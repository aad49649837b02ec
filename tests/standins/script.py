"""What a stand-in should answer next: one protocol-neutral script that every cloud stand-in renders
in its own wire format, so a test reads the same whichever cloud it drives."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # None: the stand-in counts the request's tokens (and runs its prompt cache, where the cloud has one);
    # a number: reported as scripted (with `cached_tokens`), the cache's own figures left aside.
    input_tokens: int | None = None
    output_tokens: int = 7
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    def scripted_input(self) -> int:
        """The input tokens of a stand-in that does not count them (OpenAI-compatible ones)."""
        return 11 if self.input_tokens is None else self.input_tokens

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
