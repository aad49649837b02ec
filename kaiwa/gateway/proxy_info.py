"""What the LiteLLM proxy says about an alias: its prices (`/model/info`, LiteLLM's model map or the config's
`model_info`) and the OpenAI parameters it can pass on (`/utils/supported_openai_params`).

kaiwa prices everything as the proxy prices it; these are only used to say what prompt caching saved and which
Responses controls (`--verbosity`, `--service-tier`) a model takes. Stdlib only (no openai import), answers None
rather than failing: a proxy that cannot say is no reason to fail a turn or a listing.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

TIMEOUT = 3.0
# No HTTP(S)_PROXY for the proxy's own questions: kaiwa's turns do not go through one either.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Prices:
    """USD per token, as the proxy prices a model's usage."""

    input: float
    cache_read: float
    cache_write: float
    output: float

    def saving(self, read_tokens: int, write_tokens: int) -> float:
        """What caching saved against sending the same tokens uncached: reads are cheaper than input, writes
        dearer (Claude: 10% and 125% of the input price)."""
        return read_tokens * (self.input - self.cache_read) - write_tokens * (self.cache_write - self.input)


def _root(base_url: str) -> str:
    """The proxy's root (`/model/info` sits beside `/v1`, not under it)."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = path[: -len("/v1")] if path.endswith("/v1") else path
    return f"{parts.scheme}://{parts.netloc}{path}"


def _get(base_url: str, api_key: str | None, path: str, timeout: float) -> Any:
    request = urllib.request.Request(_root(base_url) + path, headers={"Authorization": f"Bearer {api_key or ''}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _price(info: dict[str, Any], key: str, default: float) -> float:
    value = info.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _model_infos(base_url: str, api_key: str | None, timeout: float) -> list[tuple[str, dict[str, Any]]] | None:
    """(alias, model_info) for every alias `/model/info` lists, or None when the proxy cannot be asked."""
    body = _get(base_url, api_key, "/model/info", timeout)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return None
    return [(str(entry.get("model_name")), entry["model_info"]) for entry in body["data"]
            if isinstance(entry, dict) and isinstance(entry.get("model_info"), dict)]  # fmt: skip


def context_windows(base_url: str, api_key: str | None, timeout: float = TIMEOUT) -> dict[str, int] | None:
    """Every alias's input window in tokens (`max_input_tokens`), or None when the proxy cannot be asked."""
    infos = _model_infos(base_url, api_key, timeout)
    if infos is None:
        return None
    windows: dict[str, int] = {}
    for alias, info in infos:
        size = info.get("max_input_tokens")
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            windows.setdefault(alias, size)
    return windows


def model_prices(base_url: str, api_key: str | None, timeout: float = TIMEOUT) -> dict[str, Prices] | None:
    """Every alias's prices, or None when the proxy cannot be asked. An alias without an input price is left
    out (an unpriced model: nothing to say in dollars)."""
    infos = _model_infos(base_url, api_key, timeout)
    if infos is None:
        return None
    prices: dict[str, Prices] = {}
    for alias, info in infos:
        unit = _price(info, "input_cost_per_token", 0.0)
        if unit:
            prices.setdefault(
                alias,
                Prices(
                    input=unit,
                    cache_read=_price(info, "cache_read_input_token_cost", unit),
                    cache_write=_price(info, "cache_creation_input_token_cost", unit),
                    output=_price(info, "output_cost_per_token", 0.0),
                ),
            )
    return prices


def supported_params(base_url: str, api_key: str | None, alias: str, timeout: float = TIMEOUT) -> frozenset[str] | None:
    """The OpenAI parameters the proxy can pass on for `alias`, or None when it cannot say."""
    path = f"/utils/supported_openai_params?model={quote(alias, safe='')}"
    body = _get(base_url, api_key, path, timeout)
    params = body.get("supported_openai_params") if isinstance(body, dict) else None
    return frozenset(str(p) for p in params) if isinstance(params, list) else None


def model_ids(base_url: str, api_key: str | None, timeout: float = TIMEOUT) -> list[str] | int | None:
    """The aliases the proxy offers (`/v1/models`), the HTTP status when it refuses (401: the key), or None when
    nothing answers there."""
    request = urllib.request.Request(
        _root(base_url) + "/v1/models", headers={"Authorization": f"Bearer {api_key or ''}"}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = json.loads(response.read(4 * 2**20))
    except urllib.error.HTTPError as error:
        # LiteLLM without a database answers a key it does not know with 400 "No connected db.": a refused key.
        with contextlib.suppress(OSError):
            if error.code == 400 and b"no_db_connection" in error.read(4096):
                return 401
        return error.code
    except (urllib.error.URLError, OSError, ValueError):
        return None
    entries = body.get("data") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return None
    return [str(entry["id"]) for entry in entries if isinstance(entry, dict) and isinstance(entry.get("id"), str)]


@dataclass(frozen=True)
class KeyBudget:
    """The proxy's own figures for the key in use (LiteLLM virtual keys): what it spent, and its budget (None:
    no budget set)."""

    spend: float
    max_budget: float | None
    budget_reset_at: str | None = None


def key_budget(base_url: str, api_key: str | None, timeout: float = TIMEOUT) -> KeyBudget | None:
    """`/key/info` for the calling key, or None when the proxy keeps no keys (no database) or will not say."""
    if not api_key:
        return None
    body = _get(base_url, api_key, "/key/info", timeout)
    info = body.get("info") if isinstance(body, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("spend"), int | float):
        return None
    limit = info.get("max_budget")
    reset = info.get("budget_reset_at")
    return KeyBudget(
        spend=float(info["spend"]),
        max_budget=float(limit) if isinstance(limit, int | float) and not isinstance(limit, bool) else None,
        budget_reset_at=str(reset) if reset else None,
    )
