"""What `chat.py status` says about the proxy: the endpoint a turn would use and why, where the key comes from (never
the key), and whether the proxy offers the default model. It starts nothing and sends a key only where a turn would.
Stdlib only (no openai import)."""

from __future__ import annotations

from typing import Any

from ..redact import mask_url
from ..settings import Settings, setting_source
from . import state as gs
from .endpoint import discovered, status
from .launch import url_root
from .proxy_info import model_ids


def _from(name: str) -> str | None:
    source = setting_source(name)
    return None if source is None else f"{name} in {source}"


def endpoint_report(settings: Settings) -> dict[str, Any]:
    """{"endpoint": …, "key": …, "model": …, "gateway": …} for `status` (and its --json)."""
    gateway = status()
    where = mask_url(url_root(settings.base_url)).split("://", 1)[-1]
    url: str | None
    key: str | None = settings.api_key
    key_source = _from("LITELLM_API_KEY") or "none set"
    if settings.base_url_from_user:
        kind, url, why = "setting", settings.base_url, _from("LITELLM_BASE_URL") or "LITELLM_BASE_URL"
    else:
        found = discovered(settings.base_url)
        if isinstance(found, str):
            kind, url, why = "discovered", found, f"LITELLM_BASE_URL is not set; a proxy of yours answers at {where}"
        else:
            refused = "" if found is None else f" (the server there runs as another user, uid {found.uid}: not used)"
            kind, why = (
                "local gateway",
                f"LITELLM_BASE_URL is not set and no proxy of yours answers at {where}{refused}",
            )
            url = gateway.get("url")
            key, key_source = gs.master_key(gs.paths(create=False)), "the local gateway's own key (made at each start)"
            if not gateway["running"]:
                why += "; kaiwa starts the local gateway on the next turn"
    offered: bool | None = None
    problem: str | None = None
    aliases: list[str] = []
    if url is None:
        problem = "not asked: the local gateway is not running"
    else:
        answer = model_ids(url, key)
        if isinstance(answer, list):
            aliases, offered = answer, settings.model in answer
        else:
            problem = "nothing answers there" if answer is None else f"the proxy answered HTTP {answer} to /v1/models"
    return {
        "endpoint": {"url": mask_url(url) if url else None, "kind": kind, "why": why},
        "key": {"source": key_source},
        "model": {
            "name": settings.model,
            "source": _from("LITELLM_MODEL") or "kaiwa's default",
            "offered": offered,
            "problem": problem,
            "aliases": aliases,
        },
        "gateway": gateway,
    }
