"""What a cloud said, out of LiteLLM's wrapping of it: the provider's name and its own message, from an error
body as JSON, as a Python bytes literal of JSON, or as plain words (Anthropic, Google, Bedrock and OpenAI shapes).
Used by `failures.py` so the one line quotes the cloud, not the proxy's wrapping."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

MESSAGE_LIMIT = 240
# LiteLLM's wrapping of a provider's error: `litellm.InternalServerError: [InternalServerError: ]BedrockException -
# <the provider's body or words>[ LiteLLM: model group … No fallback was attempted.]` (and a few variants).
_PROVIDER_PART = re.compile(r"\b([A-Z][A-Za-z_]*?)_?Exception\s*(?:[A-Za-z]+Error\s*)?-\s*", re.S)
_LITELLM_TAIL = re.compile(
    r"\s*(?:LiteLLM: model group|Received Model Group=|Available Model Group Fallbacks=|LiteLLM Retried:"
    r"|model_group=|No fallback model group found).*$",
    re.S,
)
_JSON_MESSAGE = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"')
# LiteLLM's provider name (`Azure_aiException`, `Vertex_ai_betaException`) by prefix: `azure_ai` before `azure`.
CLOUD_NAMES = {
    "bedrock": "Bedrock",
    "azure_ai": "Azure AI Foundry",
    "azure": "Azure",
    "vertex": "Vertex AI",
    "gemini": "Gemini",
    "anthropic": "Anthropic",
    "openai": "the OpenAI-compatible server",
}


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def body_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(getattr(exc, "message", "") or exc)


def _message_in(body: object) -> str | None:
    """The human message in a provider's error body: Anthropic `{"type":"error","error":{"message"}}`, Google
    `{"error":{"code","message","status"}}`, Bedrock `{"message"}` / `{"Message"}`, OpenAI `{"error":{"message"}}`."""
    if isinstance(body, dict):
        for key in ("error", "Error"):
            found = _message_in(body.get(key))
            if found:
                return found
        for key in ("message", "Message", "detail", "error_description"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
        return None
    if isinstance(body, list) and body:
        return _message_in(body[0])  # Google sometimes answers with a one-element list
    if isinstance(body, str) and body.strip():
        return body
    return None


def from_text(text: str) -> str | None:
    """A provider's message from its error body as text (JSON, a Python bytes literal of JSON, or plain words)."""
    text = text.strip()
    if text.startswith(("b'", 'b"')):  # LiteLLM prints some bodies as Python bytes
        try:
            raw = ast.literal_eval(text)
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        except (ValueError, SyntaxError):
            text = text[2:].rstrip("'\"")
    start = text.find("{")
    if start != -1:
        try:
            found = _message_in(json.loads(text[start : text.rfind("}") + 1]))
            if found:
                return found
        except ValueError:
            pass
        quoted = _JSON_MESSAGE.search(text)
        if quoted:
            try:
                return str(json.loads(f'"{quoted.group(1)}"'))
            except ValueError:
                return quoted.group(1)
    return text or None


def cloud_words(text: str) -> tuple[str | None, str]:
    """(the cloud's name, its own message) from an error text LiteLLM wrapped; (None, text) when it is not such
    a wrapping (then the text is the proxy's own words)."""
    part = _PROVIDER_PART.search(text)
    if part is None:
        return None, text
    name = part.group(1).lower()
    rest = _LITELLM_TAIL.sub("", text[part.end() :])
    message = from_text(rest) or rest
    known = next((CLOUD_NAMES[key] for key in CLOUD_NAMES if name.startswith(key)), None)  # vertex_ai_beta
    return known or part.group(1).replace("_", " "), message
