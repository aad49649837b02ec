"""The one mapping from what a turn raises (the SDK, openai, the proxy, the store, kaiwa itself) to a failure:
one line for the user, a hint, an exit code, and a `kind` from the closed list `errors.FailureKind` (`--json`'s
`error.kind`; what each means is said there). Hints name options as `$model` (`errors.spelled`).

Called only after a turn failed, so the heavy modules it inspects are already imported.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from ..errors import FailureKind, KaiwaError
from ..redact import mask_url, redact
from ..words import invocation, program
from .cloud_errors import body_message, cloud_words, from_text, short
from .outcome import as_error, as_event, interrupted, unexpected  # noqa: F401  (where callers look for them)

_FAILED_CODE = re.compile(r"code='([a-z_]+)'")
RETRY_SOON = "wait a moment and retry (nothing was saved for this turn)"
RETRY_LATER = "retry later, or try another $model (nothing was saved for this turn)"
FIX_REQUEST = "change what it names (the message, $reasoning, $model) and try again"


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


# The Agents SDK's words when two MCP servers list a tool of the same name (agents/mcp/util.py).
_SAME_TOOL_NAMES = re.compile(r"Duplicate tool names found across MCP servers: (.*?)(?:\. Pass |$)", re.DOTALL)


def is_context_window(exc: BaseException) -> bool:
    """The proxy refused the turn because the conversation no longer fits the model (LiteLLM's
    ContextWindowExceededError, 400; or a bridged stream that failed for that reason)."""
    import openai
    from agents.exceptions import ModelBehaviorError

    if isinstance(exc, openai.BadRequestError):
        return bool(_CONTEXT_WINDOW.search(f"{body_message(exc)} {exc}"))
    return isinstance(exc, ModelBehaviorError) and bool(_CONTEXT_WINDOW.search(str(exc)))


def _failure(kind: FailureKind, message: str, hint: str = "", *, model: str | None = None,
             setting: str | None = None) -> KaiwaError:  # fmt: skip
    return KaiwaError(message, hint, kind=kind, model=model, setting=setting)


def not_stored(exc: Exception, store: Any) -> KaiwaError:
    """The answer came (and is on the screen) but the store failed to keep the turn: said as such, never as a
    message not sent. The store's own line says why (a lost Postgres connection, a full disk)."""
    from ..store import store_failure

    cause = exc if isinstance(exc, KaiwaError) else store_failure(exc, store)
    why = cause.message if cause is not None else f"{type(exc).__name__}: {short(str(exc))}"
    failed = KaiwaError(
        f"the answer was received but could not be stored ({why})",
        "the session is as it was before this turn; ask again once the store works"
        + (f" ({cause.hint})" if cause is not None and cause.hint else ""),
        kind="store",
        sent=True,
    )
    failed.__cause__ = exc
    return failed


def _status_failure(exc: Any, model: str, cloud: str | None, message: str) -> KaiwaError:
    """An HTTP error status from the proxy (the cloud's own words quoted when LiteLLM wrapped them)."""
    import openai

    at = f" at {cloud}" if cloud else ""
    if isinstance(exc, openai.RateLimitError):
        said = f": {message}" if cloud else ""
        return _failure(
            "rate_limited",
            f"the model {model!r} is rate-limited{at} (429) even after retries{said}",
            RETRY_SOON,
            model=model,
        )
    if exc.status_code >= 500:
        return _failure(
            "upstream",
            f"the model {model!r} failed upstream{at} ({exc.status_code}) even after retries: {message}",
            RETRY_LATER,
            model=model,
        )
    if cloud:
        return _failure(
            "refused",
            f"{cloud} refused the request for the model {model!r} ({exc.status_code}): {message}",
            FIX_REQUEST,
            model=model,
        )
    return _failure(
        "refused",
        f"the proxy refused the request ({exc.status_code}): {message}",
        "check $model and the options",
        model=model,
    )


def _stream_failure(text: str, model: str, api_key: str | None) -> KaiwaError:
    """A stream that ended in `response.failed`: some bridges (Vertex) report upstream HTTP errors so."""
    code = _FAILED_CODE.search(text)
    cloud, words = cloud_words(text)
    if cloud is None:
        words = from_text(text) or text
    at = f" at {cloud}" if cloud else ""
    detail = redact(short(words), api_key)
    if code and code.group(1) == "rate_limit_exceeded":
        return _failure(
            "rate_limited",
            f"the model {model!r} is rate-limited{at} (429) even after retries: {detail}",
            RETRY_SOON,
            model=model,
        )
    if code and code.group(1) in ("server_error", "internal_server_error", "service_unavailable"):
        return _failure(
            "upstream",
            f"the model {model!r} failed upstream{at} even after retries: {detail}",
            RETRY_LATER,
            model=model,
        )
    if code and code.group(1) in ("invalid_request_error", "bad_request"):
        return _failure(
            "refused",
            f"{cloud or 'the upstream'} refused the request for the model {model!r}: {detail}",
            FIX_REQUEST,
            model=model,
        )
    return _failure(
        "stream",
        f"the model's answer failed mid-stream{at}: {detail}",
        "nothing was saved for this turn; try again",
    )


def _cut_failure(cut: Any) -> KaiwaError:
    """A stream that broke off and was not tried again (stream_retry.py)."""
    if getattr(cut, "written", False):
        return _failure(
            "stream",
            f"the answer was cut off mid-stream ({cut.reason}) after part of it was written to stdout; not retried,"
            " so nothing is written twice",
            "nothing was saved for this turn; run it again",
        )
    tries = getattr(cut, "attempts", 1)
    times = f" {tries} times" if tries > 1 else ""
    return _failure(
        "stream",
        f"the answer broke off{times} ({cut.reason})",
        "nothing was saved for this turn; try again (KAIWA_STREAM_RETRIES sets how often kaiwa retries by itself)",
    )


_BUDGET = re.compile(r"Budget has been exceeded|ExceededBudget")
_BUDGET_FIGURES = re.compile(
    r"(?:Current cost: |Spend=)(?P<spent>[0-9.e+-]+),? (?:Max budget: |Budget=)(?P<limit>[0-9.e+-]+)"
)


def _key_budget_spent(exc: Any, raw: str) -> KaiwaError | None:
    """LiteLLM refusing a key (or its user or team) that spent its budget: `budget_exceeded`, 422 on 1.106
    (429 before)."""
    body = getattr(exc, "body", None)
    kind = body.get("type") if isinstance(body, dict) else None
    if kind != "budget_exceeded" and not _BUDGET.search(raw):
        return None
    figures = _BUDGET_FIGURES.search(raw)
    said = ""
    if figures:
        said = f": ${float(figures['spent']):.2f} spent of its ${float(figures['limit']):.2f}"
    return _failure(
        "budget",
        f"the proxy refused the turn: your key's budget is spent{said}",
        "ask the proxy's administrator to raise the key's max_budget, or wait for its budget to reset;"
        " nothing was sent to the model",
    )


def _not_litellm(exc: BaseException, proxy_url: str) -> KaiwaError | None:
    """A failure LiteLLM does not cause (a 404 or 501 page, a stream that is not one, a connection cut mid-answer)
    may mean the URL names some other server: ask it, and if so, say so about the setting."""
    import openai
    from agents.exceptions import ModelBehaviorError

    odd = isinstance(exc, openai.APIStatusError | ModelBehaviorError) or (
        isinstance(exc, openai.APIError) and not isinstance(exc, openai.APITimeoutError)
    )
    if not odd or isinstance(exc, openai.AuthenticationError | openai.RateLimitError):
        return None
    from ..gateway.endpoint import not_litellm

    wrong = not_litellm(proxy_url)
    return wrong.as_kind("not_litellm") if wrong is not None else None


def explain(
    exc: BaseException, *, base_url: str, api_key: str | None, model: str, timeout: float, store: Any = None
) -> KaiwaError:
    """The one line a failed turn (or a command that talks to the proxy or the store) shows."""
    if isinstance(exc, KaiwaError):
        return exc
    from .stream_watch import StreamCut

    if isinstance(exc, StreamCut):
        # A "stream" that never was one may be another server at the URL (a web page): say so about the setting.
        from ..gateway.endpoint import not_litellm

        wrong = not_litellm(base_url)
        return wrong.as_kind("not_litellm") if wrong is not None else _cut_failure(exc)
    if store is not None:
        from ..store import store_failure

        if (failed := store_failure(exc, store)) is not None:  # e.g. a damaged page met mid-turn
            return failed.as_kind("store")
    import openai
    from agents.exceptions import MaxTurnsExceeded, ModelBehaviorError, UserError

    proxy_url, base_url = base_url, mask_url(base_url)  # a URL's own credentials are never printed
    raw = body_message(exc)
    cloud, words = cloud_words(raw)  # the provider's own message when LiteLLM wrapped one
    message = redact(short(words), api_key)
    if cloud is None and (wrong := _not_litellm(exc, proxy_url)) is not None:
        return wrong
    if is_context_window(exc):
        return _failure(
            "context_window",
            f"the conversation no longer fits the context window of {model!r}",
            f"compact it (/compact, or `{program()} sessions compact ID`), start a new one (/new, or without"
            " $session_id), or pick a model with a longer context ($model); the session is as it was",
            model=model,
        )
    if isinstance(exc, openai.APITimeoutError):
        return _failure(
            "timeout",
            f"the proxy at {base_url} did not answer within {timeout:g} s",
            "try again, or raise KAIWA_TIMEOUT in .env.app",
            setting="KAIWA_TIMEOUT",
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        if cause is not None and "connect" not in type(cause).__name__.lower() and "refused" not in str(cause):
            return _failure(
                "stream",
                f"the connection to the proxy broke off mid-answer ({type(cause).__name__})",
                "nothing was saved for this turn; try again",
            )
        return _failure(
            "unreachable",
            f"cannot reach the LiteLLM proxy at {base_url}",
            f"start it (`docker compose up -d` or `{invocation()} gateway start`) or set LITELLM_BASE_URL",
            setting="LITELLM_BASE_URL",
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError) or "No connected db" in raw:
        return _failure(
            "auth",
            f"the proxy at {base_url} rejected the API key",
            "set LITELLM_API_KEY (environment or .env.app) to the proxy's key",
            setting="LITELLM_API_KEY",
        )
    if isinstance(exc, openai.APIStatusError) and (spent := _key_budget_spent(exc, raw)) is not None:
        return spent
    if (
        isinstance(exc, openai.BadRequestError | openai.NotFoundError)
        and ("Invalid model name" in raw or "model_not_found" in raw or isinstance(exc, openai.NotFoundError))
        and not (cloud and isinstance(exc, openai.BadRequestError))
    ):
        aliases = proxy_aliases(proxy_url, api_key)
        offer = f"use $model with one of: {', '.join(aliases)}" if aliases else "check $model and LITELLM_MODEL"
        return _failure("unknown_model", f"the proxy has no model alias {model!r}", offer, model=model)
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, model, cloud, message)
    if isinstance(exc, ModelBehaviorError):
        return _stream_failure(str(exc), model, api_key)
    if isinstance(exc, UserError) and (same := _SAME_TOOL_NAMES.match(str(exc))):
        return KaiwaError(  # the MCP config's doing, found by the SDK when it gathers the turn's tools
            f"two MCP servers offer tools of the same name ({short(same.group(1))}): the model cannot tell them apart",
            'set "disabled": true on one of them in the MCP config, or pick one with a role\'s mcp: [NAME];'
            " nothing was sent",
            exit_code=2,
            kind="usage",
        )
    if isinstance(exc, MaxTurnsExceeded):
        return _failure("tool_loop", "the agent kept calling tools without answering", "rephrase, or try $no_tools")
    if isinstance(exc, openai.APIError):
        return _failure("stream", f"the answer stream failed: {message}", "try again")
    return unexpected(exc, api_key)
