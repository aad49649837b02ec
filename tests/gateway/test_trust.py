"""A machine shared with others (issue 31, items 1 and 2): kaiwa sends its key and the user's prompt only to an
endpoint it has reason to trust. Another user (`nobody`, see tests/harness/squatter.py) answering on the default
URL (localhost:4000) or on the local gateway's port while it starts gets neither, and kaiwa says so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kaiwa.gateway import state as gs
from tests.gateway.test_offline import REPO, free_port, gateway_env, ours_running
from tests.harness.squatter import Squatter

SECRET_PROMPT = "the-owners-private-prompt-7f3a"
USER_KEY = "sk-users-own-master-key-0123456789"
FAILING_UV = "#!/bin/sh\necho 'error: no network here' >&2\nexit 3\n"


def chat(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "chat.py"), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def private_env(tmp_path: Path, state: Path, port: int) -> dict[str, str]:
    env = gateway_env(state, port)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), KAIWA_WARM="0", SESSION_DB_PATH=str(tmp_path / "s.sqlite3"), LITELLM_API_KEY=USER_KEY)
    env.pop("LITELLM_BASE_URL", None)
    return env


def test_another_users_server_on_the_default_url_gets_no_key_and_no_prompt(tmp_path: Path) -> None:
    """Nothing configured: the README's Docker set-up (LITELLM_API_KEY only). A stranger's fake on :4000 is not used;
    kaiwa says so in one line and falls back to its own gateway (here its set-up fails at once: a uv that cannot)."""
    uv = tmp_path / "uv"
    uv.write_text(FAILING_UV)
    uv.chmod(0o755)
    env = private_env(tmp_path, tmp_path / "state", free_port())
    env["UV"] = str(uv)
    with Squatter(4000, wait=5) as squatter:
        assert squatter.wait_ready(30), "port 4000 is taken on this machine; the test needs it free"
        done = chat(["--input", SECRET_PROMPT], env, tmp_path)
    assert not squatter.received(USER_KEY) and not squatter.received(SECRET_PROMPT), squatter.requests
    said = [line for line in done.stderr.splitlines() if "another user" in line]
    assert len(said) == 1 and "localhost:4000" in said[0] and "uid 65534" in said[0], done.stderr
    assert "run curl evil.sh" not in done.stdout
    assert "Traceback" not in done.stderr


def test_a_port_taken_while_the_gateway_starts_gets_nothing(tmp_path: Path) -> None:
    """The supervisor's command line shows --proxy-port; LiteLLM takes seconds to bind it. A stranger who binds it
    first must not receive the gateway's key nor the turn; kaiwa stops what it started and says so in one line."""
    state = tmp_path / "state"
    port = free_port()
    env = private_env(tmp_path, state, port)
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "chat.py"), "--input", SECRET_PROMPT, "--model", "local"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not ours_running(state) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # as the attacker: watch the process list for the supervisor and its --proxy-port
        assert ours_running(state), "the supervisor never started"
        assert f"--proxy-port {port}" in gs.cmdline(ours_running(state)[0])
        with Squatter(port, wait=60) as squatter:
            assert squatter.wait_ready(60), "the squatter could not bind the port before LiteLLM did"
            out, err = proc.communicate(timeout=600)
        key = (state / "gateway.key").read_text().strip() if (state / "gateway.key").exists() else "no key"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not squatter.received(SECRET_PROMPT), squatter.requests
    assert not squatter.received(key) and not any(
        "authorization" in map(str.lower, r["headers"]) for r in squatter.requests
    )
    assert proc.returncode != 0 and "run curl evil.sh" not in out
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"port {port} was taken by another user's process (uid 65534)" in errors[0], err
    deadline = time.monotonic() + 30
    while ours_running(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ours_running(state) == []


def test_keys_are_made_for_each_start(tmp_path: Path) -> None:
    p = gs.Paths(tmp_path)
    first, second = gs.new_keys(p), gs.new_keys(p)
    assert first.master != second.master and first.model != second.model
    assert gs.master_key(p) == second.master and first.model not in (tmp_path / "gateway.key").read_text()
    assert oct((tmp_path / "gateway.key").stat().st_mode & 0o777) == "0o600"


READ_ONLY = 'mount --bind "$HOME" "$HOME" && mount -o remount,bind,ro "$HOME" && exec "$@"'


def test_status_and_stop_on_a_read_only_home_are_one_line(tmp_path: Path) -> None:
    """Issue 31.9: a read-only HOME (its own mount namespace, so nothing else sees it)."""
    home = tmp_path / "home"
    (home / ".local" / "state" / "kaiwa").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "KAIWA_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), KAIWA_WARM="0")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = ["unshare", "-m", "sh", "-c", READ_ONLY, "sh", sys.executable, str(REPO / "chat.py"), *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    status = run("gateway", "status")
    assert status.returncode == 1 and "not running" in status.stdout and "Traceback" not in status.stderr, status
    stale = {"supervisor_pid": 999999, "proxy_pid": 999998, "model_pid": 999997, "proxy_port": 1, "model_port": 2,
             "started_at": 0.0, "idle_minutes": 1.0, "log_path": "x"}  # fmt: skip
    (home / ".local" / "state" / "kaiwa" / "gateway.json").write_text(json.dumps(stale))
    stop = run("gateway", "stop")
    lines = [line for line in stop.stderr.splitlines() if line.strip()]
    assert stop.returncode == 1 and len(lines) == 1 and "Traceback" not in stop.stderr, stop
    assert lines[0].startswith("error: cannot stop the local gateway: Read-only file system")
    (home / ".local" / "state" / "kaiwa" / "gateway.json").unlink()
    assert run("gateway", "stop").stdout.strip() == "local gateway: was not running"
    assert run("gateway", "status").returncode == 1
