"""Turning what the SDK, openai and the proxy raise into one line for the user.

Called only after a turn failed, so the heavy modules it inspects are already imported.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from ..errors import KaiwaError

_SECRETISH = re.compile(r"\b(sk-[A-Za-z0-9_\-]{4,}|AKIA[0-9A-Z]{12,}|Bearer\s+[A-Za-z0-9._\-]+)")
MESSAGE_LIMIT = 240
_FAILED_CODE = re.compile(r"code='([a-z_]+)'")
_UPSTREAM_MESSAGE = re.compile(r'"message":\s*"([^"]{1,400})"')


def redact(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _SECRETISH.sub("***", text)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _body_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(getattr(exc, "message", "") or exc)


def proxy_aliases(base_url: str, api_key: str | None, timeout: float = 3.0) -> list[str]:
    """The aliases the proxy offers (`/v1/models`), or [] when it will not say."""
    request = urllib.request.Request(f"{base_url}/models", headers={"Authorization": f"Bearer {api_key or 'no-key'}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's proxy URL
            data = json.load(response)
        return sorted(str(m["id"]) for m in data.get("data", []) if isinstance(m, dict) and "id" in m)
    except Exception:  # noqa: BLE001 - only a hint; the main error is already known
        return []


_CONTEXT_WINDOW = re.compile(
    r"ContextWindowExceeded|context_length_exceeded|maximum context length|prompt is too long|input is too long"
    r"|exceeds the maximum number of tokens|longer than the model's context|exceeds? context limit",
    re.IGNORECASE,
)


def is_context_window(exc: BaseException) -> bool:
    """The proxy refused the turn because the conversation no longer fits the model (LiteLLM's
    ContextWindowExceededError, 400; or a bridged stream that failed for that reason)."""
    import openai
    from agents.exceptions import ModelBehaviorError

    if isinstance(exc, openai.BadRequestError):
        return bool(_CONTEXT_WINDOW.search(f"{_body_message(exc)} {exc}"))
    return isinstance(exc, ModelBehaviorError) and bool(_CONTEXT_WINDOW.search(str(exc)))


def explain(exc: BaseException, *, base_url: str, api_key: str | None, model: str, timeout: float) -> KaiwaError:
    """The one line a failed turn shows."""
    import openai
    from agents.exceptions import MaxTurnsExceeded, ModelBehaviorError

    if isinstance(exc, KaiwaError):
        return exc
    message = redact(_short(_body_message(exc)), api_key)
    if is_context_window(exc):
        return KaiwaError(
            f"the conversation no longer fits the context window of {model!r}",
            "compact it (/compact, or `chat.py sessions compact ID`), start a new one (/new, or without"
            " --session-id), or pick a model with a longer context (--model); the session is as it was",
        )
    if isinstance(exc, openai.APITimeoutError):
        return KaiwaError(
            f"the proxy at {base_url} did not answer within {timeout:g} s",
            "try again, or raise KAIWA_TIMEOUT in .env.app",
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        if cause is not None and "connect" not in type(cause).__name__.lower() and "refused" not in str(cause):
            return KaiwaError(
                f"the connection to the proxy broke off mid-answer ({type(cause).__name__})",
                "nothing was saved for this turn; try again",
            )
        return KaiwaError(
            f"cannot reach the LiteLLM proxy at {base_url}",
            "start it (`docker compose up -d` or `uv run chat.py gateway start`) or set LITELLM_BASE_URL",
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError) or "No connected db" in message:
        return KaiwaError(
            f"the proxy at {base_url} rejected the API key",
            "set LITELLM_API_KEY (environment or .env.app) to the proxy's key",
        )
    if isinstance(exc, openai.BadRequestError | openai.NotFoundError) and (
        "Invalid model name" in message or "model_not_found" in message or isinstance(exc, openai.NotFoundError)
    ):
        aliases = proxy_aliases(base_url, api_key)
        offer = f"use --model with one of: {', '.join(aliases)}" if aliases else "check --model and LITELLM_MODEL"
        return KaiwaError(f"the proxy has no model alias {model!r}", offer)
    if isinstance(exc, openai.RateLimitError):
        return KaiwaError(f"the model {model!r} is rate-limited (429) even after retries", "wait a moment and retry")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return KaiwaError(
                f"the model {model!r} failed upstream ({exc.status_code}) even after retries: {message}",
                "retry later; the proxy's log has the details",
            )
        return KaiwaError(
            f"the proxy refused the request ({exc.status_code}): {message}", "check --model and the options"
        )
    if isinstance(exc, ModelBehaviorError):
        # Some bridges (Vertex) report upstream HTTP errors as a 200 stream ending in `response.failed`.
        text = str(exc)
        code = _FAILED_CODE.search(text)
        upstream = _UPSTREAM_MESSAGE.search(text)
        detail = redact(_short(upstream.group(1) if upstream else text), api_key)
        if code and code.group(1) == "rate_limit_exceeded":
            return KaiwaError(
                f"the model {model!r} is rate-limited (429) even after retries", "wait a moment and retry"
            )
        if code and code.group(1) in ("server_error", "internal_server_error", "service_unavailable"):
            return KaiwaError(
                f"the model {model!r} failed upstream even after retries: {detail}",
                "retry later; the proxy's log has the details",
            )
        return KaiwaError(
            f"the model's answer failed mid-stream: {detail}", "nothing was saved for this turn; try again"
        )
    if isinstance(exc, MaxTurnsExceeded):
        return KaiwaError("the agent kept calling tools without answering", "rephrase, or try --no-tools")
    if isinstance(exc, openai.APIError):
        return KaiwaError(f"the answer stream failed: {message}", "try again")
    return KaiwaError(
        f"unexpected {type(exc).__name__}: {redact(_short(str(exc)), api_key)}", "run again with --debug for details"
    )
