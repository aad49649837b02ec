"""The local gateway: when no proxy answers at the default URL, kaiwa runs one itself.

The gateway is the same LiteLLM proxy and `litellm_config.yaml` as in Docker, plus the offline model server
(alias `local`), both from the locked env in `gateway/`, loopback only, under a small supervisor
(`gateway_supervisor.py`) that outlives kaiwa and stops both after a while unused.
Import cost matters (every kaiwa run imports this): stdlib and rich only, the rest is imported lazily.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from . import gateway_state as gs
from .errors import KaiwaError, UsageError
from .settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
GATEWAY_PROJECT = REPO_ROOT / "gateway"
MODEL_LAUNCHER = GATEWAY_PROJECT / "serve_local_model.py"
SUPERVISOR = Path(__file__).resolve().parent / "gateway_supervisor.py"
START_TIMEOUT = 240.0  # seconds for both servers to answer (the proxy alone takes 10-30 s on 2 cores)
# Set by the managed gateway itself, so an alias never "needs" them from the user.
PROVIDED_BY_GATEWAY = {"LOCAL_MODEL_API_BASE", "LITELLM_MASTER_KEY"}
VERTEX_SECRET = Path("secrets") / "vertex-service-account.json"


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str | None
    managed: bool  # True: kaiwa's own local gateway
    log_path: Path | None


def config_path() -> Path:
    raw = os.environ.get("KAIWA_GATEWAY_CONFIG", "").strip()
    return Path(raw).resolve() if raw else REPO_ROOT / "litellm_config.yaml"


def idle_minutes() -> float:
    raw = os.environ.get("KAIWA_GATEWAY_IDLE_MINUTES", "").strip()
    try:
        return float(raw) if raw else gs.DEFAULT_IDLE_MINUTES
    except ValueError:
        raise UsageError(f"KAIWA_GATEWAY_IDLE_MINUTES={raw!r} is not a number", "e.g. 30") from None


# No HTTP(S)_PROXY for these probes: they go to loopback (or the user's default URL) directly.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, timeout: float) -> bool:
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _root(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def healthy(state: gs.State) -> bool:
    return _get(f"http://127.0.0.1:{state.proxy_port}/health/liveliness", 2.0)


def _port_open(port: int) -> bool:
    """A TCP connect, not an HTTP request: it writes no access-log line, so it does not count as use."""
    import socket

    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Progress:
    """What the gateway start is doing, on stderr: a live status on a terminal, plain lines otherwise."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.live = self.console.is_terminal
        self.started = time.monotonic()
        self.step = ""
        self.detail = ""
        self.last_line = 0.0
        self._status: Any = None

    def __enter__(self) -> Progress:
        if self.live:
            self._status = self.console.status("")
            self._status.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._status is not None:
            self._status.stop()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def set(self, step: str) -> None:
        self.step, self.detail = step, ""
        if self.live:
            self.tick()
        else:
            self.console.print(f"kaiwa: {step} …", markup=False, soft_wrap=True)
            self.last_line = time.monotonic()

    def line(self, text: str) -> None:
        """A line of a subprocess's progress (uv's)."""
        self.detail = text.strip()
        if self.live:
            self.tick()
        elif self.detail:
            self.console.print(f"  {self.detail}", markup=False, soft_wrap=True)
            self.last_line = time.monotonic()

    def tick(self) -> None:
        if self.live and self._status is not None:
            detail = f" — {self.detail}" if self.detail else ""
            self._status.update(f"{self.step} ({self.elapsed():.0f}s){detail}")
        elif not self.live and time.monotonic() - self.last_line > 15:
            self.console.print(f"kaiwa: still {self.step} ({self.elapsed():.0f}s)", markup=False, soft_wrap=True)
            self.last_line = time.monotonic()


def _uv() -> str:
    uv = os.environ.get("UV") or _which("uv")
    if not uv:
        raise KaiwaError("uv is not on PATH, so kaiwa cannot prepare the local gateway", "install uv")
    return uv


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def _run_streaming(cmd: list[str], progress: Progress, what: str, echo: bool = True) -> str:
    """Run a command, forwarding its output lines to the progress display; returns its output."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)  # uv would warn that it does not match the gateway project's env
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.rstrip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    output: list[str] = []
    while True:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            progress.tick()
            continue
        if line is None:
            break
        output.append(line)
        if echo:
            progress.line(line)
    if proc.wait() != 0:
        tail = " / ".join(output[-3:])
        raise KaiwaError(f"{what} failed (exit {proc.returncode}): {tail}", f"run `{' '.join(cmd)}` to see why")
    return "\n".join(output)


def _gateway_python(progress: Progress) -> str:
    uv = _uv()
    project = str(GATEWAY_PROJECT)
    progress.set("preparing the gateway environment (the first time builds the model runtime: minutes)")
    _run_streaming([uv, "sync", "--project", project, "--locked"], progress, "preparing the gateway environment")
    out = _run_streaming(
        [uv, "run", "--project", project, "--no-sync", "python", "-c", "import sys; print(sys.executable)"],
        progress,
        "locating the gateway environment",
        echo=False,
    )
    return out.strip().splitlines()[-1]


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v}


def _gateway_env(key: str, model_port: int, env_litellm: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("LITELLM_BASE_URL", "LITELLM_API_KEY", "VIRTUAL_ENV", "CONFIG_FILE"):
        env.pop(name, None)  # kaiwa's client settings, not the proxy's
    env.update(_dotenv(env_litellm))  # the proxy's own settings file, as in compose.yaml
    secret = Path.cwd() / VERTEX_SECRET
    if secret.is_file() and not env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(secret)
    env.update(
        LITELLM_MASTER_KEY=key,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LOCAL_MODEL_API_BASE=f"http://127.0.0.1:{model_port}/v1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _kill_leftovers(state: gs.State) -> None:
    """After a crash: stop whatever of an old gateway still runs (only processes that are still ours)."""
    for pid, marker in (
        (state.supervisor_pid, "gateway_supervisor"),
        (state.proxy_pid, "litellm"),
        (state.model_pid, "serve_local_model"),
    ):
        if gs.is_ours(pid, marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            if not gs.wait_gone(pid, 10):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def _start(p: gs.Paths, progress: Progress, env_litellm: Path) -> gs.State:
    config = config_path()
    if not config.is_file():
        raise KaiwaError(f"the gateway config {config} is missing", "restore litellm_config.yaml from git")
    python = _gateway_python(progress)
    wanted = int(os.environ.get("KAIWA_GATEWAY_PORT", "").strip() or gs.DEFAULT_PORT)
    proxy_port = wanted if gs.port_free(wanted) else gs.free_port()
    model_port = gs.free_port()
    while model_port == proxy_port:
        model_port = gs.free_port()
    if p.log.exists():
        os.replace(p.log, p.log.with_suffix(".log.1"))
    env = _gateway_env(gs.master_key(p), model_port, env_litellm)
    progress.set("starting the local gateway (LiteLLM proxy and offline model)")
    with open(p.log, "ab") as log:
        supervisor = subprocess.Popen(
            [
                sys.executable,
                str(SUPERVISOR),
                "--state-dir",
                str(p.root),
                "--python",
                python,
                "--config",
                str(config),
                "--model-launcher",
                str(MODEL_LAUNCHER),
                "--proxy-port",
                str(proxy_port),
                "--model-port",
                str(model_port),
                "--threads",
                str(os.cpu_count() or 1),
                "--idle-minutes",
                str(idle_minutes()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(REPO_ROOT),
            start_new_session=True,  # outlives kaiwa, and Ctrl-C in kaiwa's terminal does not reach it
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if supervisor.poll() is not None:
            raise KaiwaError(f"the local gateway stopped while starting (exit {supervisor.returncode})", f"see {p.log}")
        state = gs.read_state(p)
        if (
            state is not None
            and state.supervisor_pid == supervisor.pid
            and healthy(state)
            and _get(f"http://127.0.0.1:{state.model_port}/v1/models", 2.0)
        ):
            return state
        progress.tick()
        time.sleep(0.25)
    _stop_pid(supervisor.pid)
    raise KaiwaError(f"the local gateway did not answer within {START_TIMEOUT:.0f}s", f"see {p.log}")


def _stop_pid(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    if not gs.wait_gone(pid, 15):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # the supervisor leads its session: this reaches the children too


def ensure_running(
    progress: Progress, env_litellm: Path = Path(".env.litellm"), on_start: Callable[[Path], None] | None = None
) -> tuple[gs.State, str]:
    """Reuse the running gateway or start one; returns its state and master key. Safe across processes."""
    p = gs.paths()
    state = gs.read_state(p)
    if state is not None and gs.is_ours(state.supervisor_pid, "gateway_supervisor") and healthy(state):
        return state, gs.master_key(p)
    with gs.locked(p, waiting=lambda: progress.set("waiting for another kaiwa that is starting the gateway")):
        state = gs.read_state(p)  # again, under the lock: another process may have started it meanwhile
        if state is not None and gs.is_ours(state.supervisor_pid, "gateway_supervisor"):
            if healthy(state):
                return state, gs.master_key(p)
            _stop_pid(state.supervisor_pid)  # alive but not answering: nobody is starting it (we hold the lock)
        if state is not None:
            _kill_leftovers(state)
            p.state.unlink(missing_ok=True)
        if on_start is not None:
            on_start(p.log)
        state = _start(p, progress, env_litellm)
        return state, gs.master_key(p)


def resolve_endpoint(settings: Settings, notify: Callable[[str], None]) -> Endpoint:
    """The proxy to talk to: the user's, a proxy at the default URL, or kaiwa's own local gateway."""
    if settings.base_url_from_user:
        return Endpoint(settings.base_url, settings.api_key, managed=False, log_path=None)
    if _get(f"{_root(settings.base_url)}/health/liveliness", 1.0):
        return Endpoint(settings.base_url, settings.api_key, managed=False, log_path=None)
    where = urlsplit(settings.base_url).netloc
    with Progress() as progress:
        state, key = ensure_running(
            progress,
            on_start=lambda log: notify(f"kaiwa: no proxy at {where}; starting the local gateway (logs: {log})"),
        )
    gs.touch_last_used(gs.paths())
    return Endpoint(state.url, key, managed=True, log_path=Path(state.log_path))


def touch() -> None:
    """Mark the managed gateway as used (resolve_endpoint does; a long interactive session may call it per turn)."""
    with contextlib.suppress(OSError):
        gs.touch_last_used(gs.paths())


def stop_gateway() -> bool:
    """Stop the local gateway and both its servers; False if none was running."""
    p = gs.paths()
    with gs.locked(p):
        state = gs.read_state(p)
        if state is None:
            return False
        running = gs.is_ours(state.supervisor_pid, "gateway_supervisor")
        if running:
            _stop_pid(state.supervisor_pid)
        _kill_leftovers(state)
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
    have = {k for k, v in os.environ.items() if v} | set(_dotenv(env_litellm)) | PROVIDED_BY_GATEWAY
    if (Path.cwd() / VERTEX_SECRET).is_file():
        have.add("GOOGLE_APPLICATION_CREDENTIALS")
    return [name for name in needed if name not in have]


def status() -> dict[str, Any]:
    """The gateway as `chat.py gateway status` shows it."""
    p = gs.paths()
    state = gs.read_state(p)
    info: dict[str, Any] = {"running": False, "log_path": str(p.log), "state_dir": str(p.root)}
    if state is None or not gs.is_ours(state.supervisor_pid, "gateway_supervisor"):
        info["stale"] = state is not None
        return info
    last = max((f.stat().st_mtime for f in (p.last_used, p.log) if f.exists()), default=time.time())
    info.update(
        running=True,
        healthy=_port_open(state.proxy_port) and _port_open(state.model_port),
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
