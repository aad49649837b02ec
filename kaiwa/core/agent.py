"""Agent construction: an Agents SDK agent on the Responses API, over an OpenAI client aimed at the proxy.

Imported only on the paths that talk to a model: it pulls in the Agents SDK and openai.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx2
from agents import Agent, ModelSettings, OpenAIResponsesModel, RunConfig, set_tracing_disabled
from openai import AsyncOpenAI
from openai.types.shared import Reasoning

from ..errors import UsageError
from .options import INSTRUCTIONS


@dataclass
class ProxyReceipts:
    """What the proxy said about each HTTP exchange of a turn: its call ids, kept with the turn."""

    request_ids: list[str] = field(default_factory=list)
    # The price LiteLLM puts in a non-streamed answer's headers (a streamed one carries it in its usage instead).
    header_costs: list[float] = field(default_factory=list)

    def clear(self) -> None:
        self.request_ids.clear()
        self.header_costs.clear()

    async def on_response(self, response: httpx2.Response) -> None:
        call_id = response.headers.get("x-litellm-call-id") or response.headers.get("x-request-id")
        if call_id:
            self.request_ids.append(call_id)
        with contextlib.suppress(KeyError, ValueError):
            self.header_costs.append(float(response.headers["x-litellm-response-cost"]))


def make_http_client(receipts: ProxyReceipts) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(verify=tls_context(), event_hooks={"response": [receipts.on_response]})


def tls_context() -> ssl.SSLContext:
    """httpx2's default TLS context (the same CA certificates, SSL_CERT_FILE/DIR), made once a process for each
    SSL_CERT_FILE/DIR: loading the certificates costs tens of milliseconds a client, and the warm process
    (kaiwa/warm) makes it before it forks, so its calls do not — unless a call names other certificates."""
    return _tls_context(os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    try:
        return httpx2.create_ssl_context()
    except OSError as error:  # missing or unreadable; ssl.SSLError (an OSError) for a file without certificates
        name, value = ("SSL_CERT_FILE", cert_file) if cert_file else ("SSL_CERT_DIR", cert_dir)
        reason = "it holds no PEM certificate" if isinstance(error, ssl.SSLError) else error.strerror or str(error)
        raise UsageError(
            f"{name}={value!r} cannot be used: {reason}",
            f"point {name} at your CA certificates (PEM), or unset it",
        ) from None


def make_client(
    base_url: str, api_key: str | None, timeout: float, max_retries: int, http_client: httpx2.AsyncClient
) -> AsyncOpenAI:
    from .flat_input import client_class  # the client without its per-item input walk (flat cost in history)

    # The proxy's router retries too: keep the client's own retries few so a turn never stacks into minutes.
    return client_class()(
        base_url=base_url,
        # The SDK client refuses to start without a key; a proxy without auth accepts any.
        api_key=api_key or "no-key",
        timeout=timeout,
        max_retries=max_retries,
        http_client=http_client,
    )


def reported_cost(raw_responses: list[Any], receipts: ProxyReceipts | None = None) -> float | None:
    """The sum of the `usage.cost` LiteLLM put in each model response of a turn, or None unless every
    response carried one (a partial sum would understate the turn) or the total is 0 (an unpriced model).
    A non-streamed answer (compaction) has its price in a header instead: then the headers' sum."""
    costs: list[float] = []
    for response in raw_responses:
        cost = (getattr(response, "raw_usage", None) or {}).get("cost")
        if isinstance(cost, bool) or not isinstance(cost, int | float):
            costs = []
            break
        costs.append(float(cost))
    if not costs and receipts is not None and len(receipts.header_costs) >= len(raw_responses):
        costs = receipts.header_costs
    total = sum(costs)
    return total if costs and total > 0 else None


def reported_cache_writes(raw_responses: list[Any]) -> int:
    """The input tokens each model response of a turn wrote to the provider's prompt cache (LiteLLM reports them
    beside `cached_tokens`, which the SDK's own usage keeps; the writes it drops)."""
    total = 0
    for response in raw_responses:
        details = (getattr(response, "raw_usage", None) or {}).get("input_tokens_details") or {}
        written = details.get("cache_write_tokens") if isinstance(details, dict) else None
        if isinstance(written, int) and not isinstance(written, bool):
            total += written
    return total


def model_settings(
    session_id: str,
    reasoning: str | None,
    temperature: float | None = None,
    max_output_tokens: int | None = None,
    *,
    verbosity: str | None = None,
    service_tier: str | None = None,
    prompt_cache: bool = True,
) -> ModelSettings:
    extra_args: dict[str, Any] = {}
    if prompt_cache:
        # The same key for every request of a conversation: OpenAI-family models route it to the same cache (the
        # SDK sets one by itself only for OpenAI's own endpoint). Claude and Gemini ignore it.
        extra_args["prompt_cache_key"] = session_id
    if service_tier:
        extra_args["service_tier"] = service_tier  # a Responses field the SDK's ModelSettings does not name
    return ModelSettings(
        # None: the model's own defaults. A model that refuses one is not an error: the proxy's drop_params
        # drops it (e.g. temperature with Claude's extended thinking).
        temperature=temperature,
        max_tokens=max_output_tokens,  # → the Responses API's max_output_tokens
        # LiteLLM groups a conversation's calls in its logs by this header and metadata field.
        extra_headers={"x-litellm-session-id": session_id},
        metadata={"session_id": session_id, "client": "kaiwa"},
        # The store keeps the whole history and sends it every turn; nothing needs keeping upstream.
        store=False,
        # With store=False, reasoning can only be replayed from its encrypted (signed) content.
        response_include=["reasoning.encrypted_content"],
        reasoning=Reasoning(effort=reasoning, summary="auto") if reasoning else None,  # type: ignore[arg-type]
        verbosity=verbosity,  # type: ignore[arg-type]  # → text.verbosity; checked against VERBOSITY_LEVELS
        extra_args=extra_args or None,
        # Keeps the usage object as the proxy sent it: LiteLLM adds the call's `cost` there (streamed answers
        # get no cost header), priced with the deployment's own model_info.
        preserve_raw_usage=True,
    )


def build_agent(
    model: str,
    client: AsyncOpenAI,
    settings: ModelSettings,
    tools: list[Any],
    mcp_servers: list[Any],
    instructions: str | None = None,
    output_type: Any = None,
    watch: Any = None,
) -> Agent[Any]:
    """`watch`: a `stream_watch.StreamWatch` that turns a stream breaking off into one `StreamCut` (a turn's calls)."""
    if watch is not None:
        from .stream_watch import WatchedResponsesModel

        responses_model: OpenAIResponsesModel = WatchedResponsesModel(model, client, watch)
    else:
        responses_model = OpenAIResponsesModel(model=model, openai_client=client)
    return Agent(
        name="kaiwa",
        instructions=instructions or INSTRUCTIONS,
        model=responses_model,
        model_settings=settings,
        tools=tools,
        mcp_servers=mcp_servers,
        output_type=output_type,  # --schema: sent as text.format (json_schema)
    )


def run_config() -> RunConfig:
    # Belt and braces: nothing may ever reach a tracing endpoint with the proxy key.
    set_tracing_disabled(True)
    return RunConfig(tracing_disabled=True, trace_include_sensitive_data=False)
