"""Starting the local gateway: preparing its env (uv), launching the supervisor, waiting until healthy.

The standard library only at import time (imported by every kaiwa run that has no user-set proxy URL).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from .. import trust, values
from ..errors import KaiwaError
from ..redact import redact
from ..settings import read_env_file
from . import sockets
from . import state as gs
from .progress import Progress, held_signals


def _resource_root() -> Path:
    """Where `litellm_config.yaml` and the proxy's locked project (`proxy/`) are: the checkout kaiwa runs from,
    or, for an installed kaiwa (`uv tool install .`), the copies shipped inside the package (`kaiwa/_proxy/`)."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "litellm_config.yaml").is_file() and (checkout / "proxy" / "pyproject.toml").is_file():
        return checkout
    return Path(__file__).resolve().parents[1] / "_proxy"


REPO_ROOT = _resource_root()
INSTALLED = REPO_ROOT.name == "_proxy"
GATEWAY_PROJECT = REPO_ROOT / "proxy"
MODEL_LAUNCHER = GATEWAY_PROJECT / "serve_local_model.py"
PROXY_LAUNCHER = GATEWAY_PROJECT / "serve_proxy.py"
SUPERVISOR = Path(__file__).resolve().parent / "supervisor.py"
START_TIMEOUT = 240.0  # seconds for both servers to answer (the proxy alone takes 10-30 s on 2 cores)
VERTEX_SECRET = Path("secrets") / "vertex-service-account.json"
# Where litellm_config.yaml's `local` alias looks (a loopback literal: an unset variable there would make
# LiteLLM fall back to a public API). When the port is taken, the gateway runs a copy with only that changed.
LOCAL_MODEL_PORT = 8089
LOCAL_MODEL_URL = f"http://127.0.0.1:{LOCAL_MODEL_PORT}/v1"
LOCAL_MODEL_KEY_PLACEHOLDER = "api_key: no-key-needed"


def config_path() -> Path:
    raw = os.environ.get("KAIWA_GATEWAY_CONFIG", "").strip()
    return Path(raw).resolve() if raw else REPO_ROOT / "litellm_config.yaml"


def idle_minutes() -> float:
    raw = values.text(os.environ.get("KAIWA_GATEWAY_IDLE_MINUTES", ""), "KAIWA_GATEWAY_IDLE_MINUTES").strip()
    return values.IDLE_MINUTES.check(raw, "KAIWA_GATEWAY_IDLE_MINUTES") if raw else gs.DEFAULT_IDLE_MINUTES


# No HTTP(S)_PROXY for these probes: they go to loopback (or the user's default URL) directly.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ok(url: str, timeout: float, key: str | None = None) -> bool:
    answer = http_get(url, timeout, key=key)
    return answer is not None and 200 <= answer[0] < 300


def http_get(url: str, timeout: float, limit: int = 512, key: str | None = None) -> tuple[int, str] | None:
    """(status, the start of the body) of a GET, or None when nothing answers HTTP there."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with _OPENER.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            return response.status, response.read(limit).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, OSError, ValueError):
        return None


def url_root(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def healthy(state: gs.State) -> bool:
    """The proxy answers, and on its port listens the very process the supervisor started, nobody else."""
    return sockets.held_by(state.proxy_port, state.proxy_pid) and http_ok(
        f"http://127.0.0.1:{state.proxy_port}/health/liveliness", 2.0
    )


def port_open(port: int) -> bool:
    """A TCP connect, not an HTTP request: it writes no access-log line, so it does not count as use."""
    import socket

    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


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
    # One name for two projects' envs would put the proxy's packages into kaiwa's env: proxy/.venv it is in a
    # checkout; an installed kaiwa keeps it in its state folder, not inside site-packages.
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    if INSTALLED:
        env["UV_PROJECT_ENVIRONMENT"] = str(gs.state_dir() / "proxy-env")
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.rstrip())
        lines.put(None)

    proc: subprocess.Popen[str] | None = None
    output: list[str] = []
    try:
        with held_signals():  # a Ctrl-C while it starts is obeyed once `proc` is known, so the finally stops it
            # Its own process group: kaiwa decides when it stops, and stopping it reaches the builds it runs too.
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                text=True,
                start_new_session=True,
            )
            threading.Thread(target=pump, args=(proc,), daemon=True).start()
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
    finally:  # Ctrl-C, SIGTERM, a closed output: the command stops with kaiwa, it is not left writing
        with held_signals():
            if proc is not None and proc.poll() is None:
                stop_group(proc)
    assert proc is not None  # Popen either returned or raised
    if proc.wait() != 0:
        tail = redact(" / ".join(output[-3:]))
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


def read_dotenv(path: Path) -> dict[str, str]:
    return {k: v for k, v in read_env_file(path).items() if v}


def folder_trusted() -> bool:
    """The current folder's `.env.litellm` and `secrets/` key may be used (kaiwa's checkout, or trusted)."""
    return trust.is_trusted(trust.current_folder())


def _gateway_config(config: Path, model_port: int, state_dir: Path) -> Path:
    """The gateway's copy of the config: the `local` alias at the model server's port, sending its per-start key
    (the config's placeholder is for Docker, where the model server is reachable only inside the proxy's container)."""
    text = config.read_text(encoding="utf-8")
    for needed in (LOCAL_MODEL_URL, LOCAL_MODEL_KEY_PLACEHOLDER):
        if needed not in text:
            raise KaiwaError(f"{config} has no `local` alias with {needed}", "restore litellm_config.yaml from git")
    text = text.replace(LOCAL_MODEL_URL, f"http://127.0.0.1:{model_port}/v1")
    text = text.replace(LOCAL_MODEL_KEY_PLACEHOLDER, f"api_key: os.environ/{gs.MODEL_KEY_ENV}")
    copy = state_dir / "litellm_config.yaml"
    with os.fdopen(gs.open_private(copy, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as f:
        f.write(text)
    return copy


def _gateway_env(keys: gs.Keys, env_litellm: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("LITELLM_BASE_URL", "LITELLM_API_KEY", "VIRTUAL_ENV", "CONFIG_FILE"):
        env.pop(name, None)  # kaiwa's client settings, not the proxy's
    # The folder's own files only once it is trusted: a cloned repository's would set the proxy's environment
    # (PYTHONPATH, a cloud's endpoint) or its Vertex account (kaiwa/trust.py).
    if folder_trusted():
        env.update(read_dotenv(env_litellm))  # the proxy's own settings file, as in compose.yaml
        secret = Path.cwd() / VERTEX_SECRET
        if secret.is_file() and not env.get("GOOGLE_APPLICATION_CREDENTIALS"):
            env["GOOGLE_APPLICATION_CREDENTIALS"] = str(secret)
    env.update(
        {gs.MODEL_KEY_ENV: keys.model},
        LITELLM_MASTER_KEY=keys.master,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        PYTHONUNBUFFERED="1",
    )
    return env


def kill_leftovers(state: gs.State) -> None:
    """After a crash: stop whatever of an old gateway still runs (only processes that are still ours)."""
    for pid, marker in (
        (state.supervisor_pid, "gateway/supervisor.py"),
        (state.proxy_pid, "serve_proxy"),
        (state.model_pid, "serve_local_model"),
    ):
        if gs.is_ours(pid, marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            if not gs.wait_gone(pid, 10):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def start_gateway(p: gs.Paths, progress: Progress, env_litellm: Path) -> gs.State:
    config = config_path()
    if not config.is_file():
        raise KaiwaError(f"the gateway config {config} is missing", "restore litellm_config.yaml from git")
    python = _gateway_python(progress)
    raw_port = values.text(os.environ.get("KAIWA_GATEWAY_PORT", ""), "KAIWA_GATEWAY_PORT").strip()
    wanted = values.PORT.check_int(raw_port, "KAIWA_GATEWAY_PORT") if raw_port else gs.DEFAULT_PORT
    proxy_port = wanted if gs.port_free(wanted) else gs.free_port()
    model_port = LOCAL_MODEL_PORT if gs.port_free(LOCAL_MODEL_PORT) and proxy_port != LOCAL_MODEL_PORT else 0
    while model_port in (0, proxy_port):
        model_port = gs.free_port()
    config = _gateway_config(config, model_port, p.root)
    if p.log.exists():
        os.replace(p.log, p.log.with_suffix(".log.1"))
    keys = gs.new_keys(p)  # per start: a key that leaked from an earlier gateway opens nothing on this one
    env = _gateway_env(keys, env_litellm)
    progress.set("starting the local gateway (LiteLLM proxy and offline model)")
    with os.fdopen(gs.open_private(p.log), "ab") as log, held_signals():  # obeyed once `supervisor` is known
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
                "--proxy-launcher",
                str(PROXY_LAUNCHER),
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
    try:
        state = _wait_healthy(p, supervisor, progress, keys)
    except BaseException:  # Ctrl-C, SIGTERM, a closed output, a timeout: a half-started gateway is stopped
        with held_signals():  # a second Ctrl-C does not cut the stop short
            stop_pid(supervisor.pid)
        raise
    progress.finished(f"the local gateway is ready at 127.0.0.1:{state.proxy_port}")
    return state


def _wait_healthy(p: gs.Paths, supervisor: subprocess.Popen[bytes], progress: Progress, keys: gs.Keys) -> gs.State:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        state = gs.read_state(p)
        if state is not None and state.supervisor_pid == supervisor.pid:
            _refuse_strangers(state, p)
        if supervisor.poll() is not None:
            raise KaiwaError(f"the local gateway stopped while starting (exit {supervisor.returncode})", f"see {p.log}")
        if (
            state is not None
            and state.supervisor_pid == supervisor.pid
            and healthy(state)
            and sockets.held_by(state.model_port, state.model_pid)
            and http_ok(f"http://127.0.0.1:{state.model_port}/v1/models", 2.0, key=keys.model)
        ):
            return state
        progress.tick()
        time.sleep(0.25)
    raise KaiwaError(f"the local gateway did not answer within {START_TIMEOUT:.0f}s", f"see {p.log}")


def _refuse_strangers(state: gs.State, p: gs.Paths) -> None:
    """Another user's process took one of the gateway's ports before its server did (the ports are on the
    supervisor's command line, which everyone can read): nothing is sent there, the start fails in one line."""
    for port in (state.proxy_port, state.model_port):
        stranger = sockets.stranger(port)
        if stranger is not None:
            raise KaiwaError(
                f"port {port} was taken by another user's process (uid {stranger.uid}) while the local gateway"
                " started; nothing was sent to it",
                "run kaiwa again (it picks a free port), or set KAIWA_GATEWAY_PORT to a port of your choice",
            )


def stop_pid(pid: int) -> None:
    """Stop the supervisor (it stops its children), then whatever of its session is left."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    gs.wait_gone(pid, 15)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)  # the supervisor leads its session: this reaches the children too


def stop_group(proc: subprocess.Popen[str], grace: float = 2.0) -> None:
    """Stop a command that leads its own process group, and everything in the group (uv and the builds it
    started): SIGTERM to the group, at most `grace` seconds for the leader to end, then SIGKILL to what is left.
    A second Ctrl-C waits until it is done. The leader is reaped here: until then it is a zombie that still
    counts as a member of its group."""
    with held_signals():
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # members that outlived their leader, or ignored SIGTERM
