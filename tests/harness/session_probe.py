"""A test-only LiteLLM callback: what the proxy's upstream-facing side knew about each call.

The test proxy loads it through `litellm_settings.callbacks: session_probe.session_probe` (LiteLLM resolves the
module relative to the config file's folder, so `install` copies this file next to the generated config). It
runs INSIDE the proxy (the gateway env), so it imports only litellm and the standard library.

Each event appends one JSON line to `session_probe.jsonl` beside the module: the session id as LiteLLM resolved
it (`litellm_session_id`), as the request's metadata and header carried it, and the call id LiteLLM returns in
`x-litellm-call-id`. Nothing else of the request is written (no key, no message text).
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

PROBE_NAME = "session_probe"
RECORDS = "session_probe.jsonl"

_lock = threading.Lock()


def install(config: Path) -> Path:
    """Copy this module next to `config` (a JSON test config) and register it there; returns the records' path.

    Only the generated test config changes: the shipped one never loads a test callback.
    """
    shutil.copyfile(__file__, config.with_name(f"{PROBE_NAME}.py"))
    data = json.loads(config.read_text())
    settings = data.setdefault("litellm_settings", {}) or {}
    data["litellm_settings"] = settings
    callbacks = settings.get("callbacks") or []
    settings["callbacks"] = [*([callbacks] if isinstance(callbacks, str) else callbacks), f"{PROBE_NAME}.{PROBE_NAME}"]
    config.write_text(json.dumps(data, indent=2) + "\n")
    return config.with_name(RECORDS)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The probe's records so far (an absent file: none)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _header(headers: object, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return None


def _summary(event: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    params = kwargs.get("litellm_params") or {}
    metadata = params.get("metadata") or kwargs.get("metadata") or {}
    request = params.get("proxy_server_request") or kwargs.get("proxy_server_request") or {}
    standard = kwargs.get("standard_logging_object") or {}
    return {
        "event": event,
        "call_type": kwargs.get("call_type"),
        "model": kwargs.get("model"),
        "litellm_call_id": kwargs.get("litellm_call_id") or params.get("litellm_call_id"),
        "litellm_session_id": params.get("litellm_session_id") or kwargs.get("litellm_session_id"),
        "metadata_session_id": metadata.get("session_id") if isinstance(metadata, dict) else None,
        "header_session_id": _header(request.get("headers") if isinstance(request, dict) else None,
                                     "x-litellm-session-id"),
        # What logging integrations receive (StandardLoggingPayload): trace_id carries the session id unless
        # litellm_settings.request_correlation_in_logs is on, which fills session_id instead.
        "logged_trace_id": standard.get("trace_id"),
        "logged_session_id": standard.get("session_id"),
        "logged_call_id": standard.get("litellm_call_id"),
        "response_cost": standard.get("response_cost"),
    }  # fmt: skip


def _write(record: dict[str, Any]) -> None:
    line = json.dumps(record, default=str)
    with _lock, Path(__file__).with_name(RECORDS).open("a") as f:
        f.write(line + "\n")


try:  # Inside the proxy: a CustomLogger. Imported by the tests (main env, no litellm): helpers only.
    from litellm.integrations.custom_logger import CustomLogger
except ImportError:  # pragma: no cover - the main env
    CustomLogger = None  # type: ignore[assignment,misc]

if CustomLogger is not None:

    class SessionProbe(CustomLogger):  # type: ignore[misc,valid-type]
        def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
            # Called just before LiteLLM sends the request to the provider (the upstream-facing side).
            _write(_summary("pre_api_call", kwargs))

        async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
            _write(_summary("success", kwargs))

    session_probe = SessionProbe()
