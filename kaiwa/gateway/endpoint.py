"""The local gateway: when no proxy answers at the default URL, kaiwa runs one itself.

The gateway is the same LiteLLM proxy and `litellm_config.yaml` as in Docker, plus the offline model server
(alias `local`), both from the locked env in `proxy/`, loopback only, under a small supervisor
(`supervisor.py`) that outlives kaiwa and stops both after a while unused.
Import cost matters (every kaiwa run imports this): the standard library only, the rest is imported lazily.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import KaiwaError
from ..redact import mask_url
from ..settings import Settings
from ..values import EXAMPLE_BASE_URL
from . import sockets
from . import state as gs
from .launch import (
    VERTEX_SECRET,
    Progress,
    config_path,
    folder_trusted,
    healthy,
    http_get,
    http_ok,
    kill_leftovers,
    port_open,
    read_dotenv,
    start_gateway,
    stop_pid,
    url_root,
)
from .progress import GatewayInterrupted, Report, signals_interrupt

__all__ = [
    "Endpoint",
    "Progress",
    "Report",
    "ensure_running",
    "missing_cloud_settings",
    "not_litellm",
    "resolve_endpoint",
    "status",
]

# Set by the managed gateway itself, so an alias never "needs" them from the user.
PROVIDED_BY_GATEWAY = {"LITELLM_MASTER_KEY"}


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str | None
    managed: bool  # True: kaiwa's own local gateway
    log_path: Path | None


def ensure_running(
    progress: Progress, env_litellm: Path = Path(".env.litellm"), on_start: Callable[[Path], None] | None = None
) -> tuple[gs.State, str]:
    """Reuse the running gateway or start one; returns its state and master key. Safe across processes."""
    p = gs.paths()
    state = gs.read_state(p)
    key = gs.master_key(p)
    if state is not None and key and gs.is_ours(state.supervisor_pid, "gateway/supervisor.py") and healthy(state):
        return state, key
    with gs.locked(p, waiting=lambda: progress.set("waiting for another kaiwa that is starting the gateway")):
        state = gs.read_state(p)  # again, under the lock: another process may have started it meanwhile
        key = gs.master_key(p)
        if state is not None and gs.is_ours(state.supervisor_pid, "gateway/supervisor.py"):
            if key and healthy(state):
                return state, key
            stop_pid(state.supervisor_pid)  # alive but not answering: nobody is starting it (we hold the lock)
        if state is not None:
            kill_leftovers(state)
            p.state.unlink(missing_ok=True)
        if on_start is not None:
            on_start(p.log)
        try:
            with signals_interrupt():
                state = start_gateway(p, progress, env_litellm)
        except KeyboardInterrupt:  # Ctrl-C: what it started is stopped already; say so in one line
            raise GatewayInterrupted("interrupted while setting up the local gateway", 130) from None
        return state, gs.master_key(p) or ""


def resolve_endpoint(settings: Settings, notify: Callable[[str], None], report: Report) -> Endpoint:
    """The proxy to talk to: the user's, a proxy of the user's at the default URL, or kaiwa's own local gateway
    (`report`: where its start's progress goes, `Progress`). A key or a prompt goes only where kaiwa has reason to
    trust: what the user configured, a listener that runs as the user (or root), or the gateway it started itself."""
    if settings.base_url_from_user:
        return Endpoint(settings.base_url, settings.api_key, managed=False, log_path=None)
    where = mask_url(url_root(settings.base_url)).split("://", 1)[-1]
    found = discovered(settings.base_url)
    if isinstance(found, str):
        notify(f"kaiwa: using the proxy found at {where} (set LITELLM_BASE_URL to choose one)")
        return Endpoint(found, settings.api_key, managed=False, log_path=None)
    if found is not None:
        notify(
            f"kaiwa: the server at {where} runs as another user (uid {found.uid}): it gets neither your key nor your"
            " messages; using the local gateway instead (set LITELLM_BASE_URL to choose a proxy)"
        )
    with Progress(report) as progress:
        state, key = ensure_running(
            progress,
            on_start=lambda log: notify(f"kaiwa: no proxy at {where}; starting the local gateway (logs: {log})"),
        )
    gs.touch_last_used(gs.paths())
    return Endpoint(state.url, key, managed=True, log_path=Path(state.log_path))


def discovered(base_url: str) -> str | sockets.Listener | None:
    """The unconfigured default URL: the URL to use when a proxy of the user's answers there (its host made the
    loopback address that proxy listens on), the listener when another user's process holds the port, else None."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    stranger = sockets.stranger(port)
    if stranger is not None:
        return stranger
    if not http_ok(f"{url_root(base_url)}/health/liveliness", 1.0):
        return None
    host = sockets.trusted_host(port)
    if host is None or parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return base_url
    return parts._replace(netloc=f"{host}:{port}").geturl()


def not_litellm(base_url: str, timeout: float = 2.0) -> KaiwaError | None:
    """After a turn failed in a way LiteLLM does not fail (a 501, an HTML page, a stream that is not one): the one
    line about LITELLM_BASE_URL if a server answers there but is not a LiteLLM proxy, else None (nothing answers:
    the "cannot reach" line says that; LiteLLM answers: the failure is the model's or the cloud's)."""
    parts = urlsplit(base_url.rstrip("/").removesuffix("/v1"))
    root = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"  # the health check needs no credentials
    answer = http_get(f"{root}/health/liveliness", timeout)  # LiteLLM answers it without a key: "I'm alive!"
    if answer is None or (200 <= answer[0] < 300 and "alive" in answer[1].lower()):
        return None
    what = f"HTTP {answer[0]}" if not 200 <= answer[0] < 300 else "an answer that is not LiteLLM's"
    return KaiwaError(
        f"the server at {mask_url(base_url)} is not a LiteLLM proxy ({what} to /health/liveliness)",
        f"set LITELLM_BASE_URL to the proxy's URL, e.g. {EXAMPLE_BASE_URL}",
    )


def touch() -> None:
    """Mark the managed gateway as used (resolve_endpoint does; a long interactive session may call it per turn)."""
    with contextlib.suppress(OSError):
        gs.touch_last_used(gs.paths())


def stop_gateway() -> bool:
    """Stop the local gateway and both its servers; False if none was running."""
    p = gs.paths(create=False)
    if not p.root.is_dir():  # nothing was ever started here (and a read-only HOME stays untouched)
        return False
    if not p.state.exists() and not os.access(p.root, os.W_OK):
        return False  # nothing runs, and no gateway can be starting in a folder nobody can write
    with gs.locked(p):
        state = gs.read_state(p)
        if state is None:
            return False
        running = gs.is_ours(state.supervisor_pid, "gateway/supervisor.py")
        if running:
            stop_pid(state.supervisor_pid)
        kill_leftovers(state)
        p.state.unlink(missing_ok=True)
        return running


_ALIAS = re.compile(r"^\s*-\s*model_name:\s*['\"]?([^'\"\s#]+)")
_ENV_REF = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")


def alias_env_refs(config: Path) -> dict[str, list[str]]:
    """`os.environ/NAME` references per alias in the proxy config (a line scan: no YAML parser needed)."""
    refs: dict[str, list[str]] = {}
    current: str | None = None
    in_models = False
    for line in config.read_text().splitlines():
        if re.match(r"^\S", line):  # a top-level key ends or starts model_list
            in_models = line.startswith("model_list:")
            current = None
            continue
        match = _ALIAS.match(line)
        if in_models and match:
            current = match.group(1)
            refs.setdefault(current, [])
        if in_models and current is not None:
            code = line.split("#", 1)[0]
            names = _ENV_REF.findall(code)
            if re.search(r"\bmodel:\s*vertex_ai/", code):
                names.append("GOOGLE_APPLICATION_CREDENTIALS")  # google-auth reads it, not the config
            for name in names:
                if name not in refs[current]:
                    refs[current].append(name)
    return refs


def missing_cloud_settings(alias: str, env_litellm: Path = Path(".env.litellm")) -> list[str]:
    """The settings an alias needs on the managed gateway that neither `.env.litellm` nor the environment sets."""
    config = config_path()
    if not config.is_file():
        return []
    needed = alias_env_refs(config).get(alias, [])
    have = {k for k, v in os.environ.items() if v} | PROVIDED_BY_GATEWAY
    if folder_trusted():  # the gateway reads the folder's files only then
        have |= set(read_dotenv(env_litellm))
        if (Path.cwd() / VERTEX_SECRET).is_file():
            have.add("GOOGLE_APPLICATION_CREDENTIALS")
    return [name for name in needed if name not in have]


def status() -> dict[str, Any]:
    """The gateway as `chat.py gateway status` shows it (reads only: it works on a read-only HOME)."""
    p = gs.paths(create=False)
    state = gs.read_state(p)
    info: dict[str, Any] = {"running": False, "log_path": str(p.log), "state_dir": str(p.root)}
    if state is None or not gs.is_ours(state.supervisor_pid, "gateway/supervisor.py"):
        info["stale"] = state is not None
        return info
    last = p.last_used.stat().st_mtime if p.last_used.exists() else time.time()
    info.update(
        running=True,
        healthy=port_open(state.proxy_port) and port_open(state.model_port),
        url=state.url,
        uptime_s=time.time() - state.started_at,
        idle_stop_in_s=max(0.0, state.idle_minutes * 60 - (time.time() - last)),
        processes={
            name: {"pid": pid, "rss": gs.rss_bytes(pid)}
            for name, pid in (
                ("supervisor", state.supervisor_pid),
                ("proxy", state.proxy_pid),
                ("model", state.model_pid),
            )
        },
        key_file=str(p.key),
    )
    return info
