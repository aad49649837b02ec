"""The offline path: kaiwa starts its own local gateway (real LiteLLM proxy + real offline model server).

Every test isolates the gateway's state in tmp (KAIWA_STATE_DIR) and gives it a free port, so it never touches
the user's own gateway. The servers are real: each start costs 10-60 s of CPU on a 2-core machine, so the
API-level tests share one gateway (started by two racing processes) and then crash and recover it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaiwa.gateway import endpoint as gateway
from kaiwa.gateway import state as gs
from kaiwa.settings import Settings
from tests.harness.db import stored_items
from tests.harness.ports import free_port

REPO = Path(__file__).resolve().parents[2]
UV = os.environ.get("UV") or "uv"


def settings(base_url: str, from_user: bool) -> Settings:
    return Settings(
        base_url=base_url,
        base_url_from_user=from_user,
        api_key="sk-user-key-not-for-the-gateway",
        model="local",
        db_path=Path("unused.sqlite3"),
        reasoning=None,
        timeout=60.0,
        max_retries=0,
        mcp_config=None,
    )


def gateway_env(state_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "KAIWA_", "VIRTUAL_ENV"))}
    env.update(KAIWA_STATE_DIR=str(state_dir), KAIWA_GATEWAY_PORT=str(port), LITELLM_BASE_URL="")
    return env


def ours_running(state_dir: Path) -> list[int]:
    """Pids of supervisors whose command line names this state dir."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and gs.pid_alive(int(proc.name)):
            line = gs.cmdline(int(proc.name))
            if "kaiwa/gateway/supervisor.py" in line and str(state_dir) in line:
                pids.append(int(proc.name))
    return pids


def default_proxy_answers() -> bool:
    return gateway.http_ok("http://localhost:4000/health/liveliness", 1.0)


# --- rules that need no gateway ----------------------------------------------------------------------------


def test_user_set_url_never_starts_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIWA_STATE_DIR", str(tmp_path / "state"))
    closed = f"http://127.0.0.1:{free_port()}/v1"
    notes: list[str] = []
    endpoint = gateway.resolve_endpoint(settings(closed, from_user=True), notes.append, lambda *_: None)
    assert (endpoint.base_url, endpoint.api_key, endpoint.managed) == (
        closed,
        "sk-user-key-not-for-the-gateway",
        False,
    )
    assert notes == []
    assert not (tmp_path / "state" / "gateway.json").exists()


def test_user_set_url_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = gateway_env(state, free_port())
    env.update(LITELLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1", SESSION_DB_PATH=str(tmp_path / "s.sqlite3"))
    done = subprocess.run(
        [UV, "run", "chat.py", "--input", "hi", "--model", "local"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "error:" in done.stderr and "Traceback" not in done.stderr
    assert "starting the local gateway" not in done.stderr
    assert not (state / "gateway.json").exists() and not (state / "gateway.log").exists()


def test_missing_cloud_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./secrets here
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION_NAME", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    env_file = tmp_path / ".env.litellm"
    env_file.write_text("AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=\n")
    monkeypatch.setenv("KAIWA_STATE_DIR", str(tmp_path / "state"))
    from kaiwa import trust

    trust.trust(tmp_path)  # a folder's .env.litellm counts only once the folder is trusted (issue 29)
    assert gateway.missing_cloud_settings("bedrock-claude-3-5-sonnet", env_file) == ["AWS_SECRET_ACCESS_KEY"]
    assert gateway.missing_cloud_settings("local", env_file) == []  # its endpoint is a loopback literal in the config
    assert "GOOGLE_APPLICATION_CREDENTIALS" in gateway.missing_cloud_settings("vertex-gemini-2.0-flash", env_file)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "vertex-service-account.json").write_text("{}")
    trust.trust(tmp_path)  # the folder's files changed: trusted again
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in gateway.missing_cloud_settings("vertex-gemini-2.0-flash", env_file)


# --- one real gateway: raced for, crashed, recovered, inspected, stopped -----------------------------------

RESOLVE = """
import json, sys
from pathlib import Path
from kaiwa.gateway.endpoint import resolve_endpoint
from kaiwa.settings import Settings
s = Settings(base_url=sys.argv[1], base_url_from_user=False, api_key=None, model="local",
             db_path=Path("x"), reasoning=None, timeout=60.0, max_retries=0, mcp_config=None)
e = resolve_endpoint(s, lambda line: print("NOTIFY", line, file=sys.stderr), lambda *_: None)
print(json.dumps({"url": e.base_url, "managed": e.managed, "key": e.api_key, "log": str(e.log_path)}))
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    if default_proxy_answers():
        pytest.skip("a proxy answers at localhost:4000, so kaiwa rightly uses it instead of starting its own")
    state = tmp_path_factory.mktemp("gateway-state")
    env = gateway_env(state, free_port())
    yield {"state": state, "env": env}
    subprocess.run(
        [sys.executable, "-c", "from kaiwa.gateway.endpoint import stop_gateway; stop_gateway()"],
        cwd=REPO,
        env=env,
        timeout=60,
    )


def test_two_racing_kaiwa_processes_start_one_gateway(shared: dict[str, object]) -> None:
    state, env = shared["state"], shared["env"]
    assert isinstance(state, Path) and isinstance(env, dict)
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing answers at the "default" URL
    started = time.monotonic()
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RESOLVE, closed],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [r.communicate(timeout=600) for r in racers]
    print(f"cold start (env sync + both servers) by two racing processes: {time.monotonic() - started:.1f}s")
    assert [r.returncode for r in racers] == [0, 0], [err for _, err in results]
    answers = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    assert answers[0] == answers[1]
    assert answers[0]["managed"] is True and answers[0]["key"].startswith("sk-kaiwa-")
    assert answers[0]["url"] == f"http://127.0.0.1:{env['KAIWA_GATEWAY_PORT']}/v1"
    # Exactly one of them started it (and said so in one line); the other waited and reused it.
    notices = [err.count("NOTIFY kaiwa: no proxy at") for _, err in results]
    assert sorted(notices) == [0, 1]
    assert len(ours_running(state)) == 1
    log = (state / "gateway.log").read_text()
    assert log.count("started model server") == 1
    assert answers[0]["key"] not in log and answers[0]["key"] not in "".join(e for _, e in results)
    assert oct((state / "gateway.key").stat().st_mode & 0o777) == "0o600"


def test_crashed_gateway_is_detected_and_replaced(shared: dict[str, object]) -> None:
    state, env = shared["state"], shared["env"]
    assert isinstance(state, Path) and isinstance(env, dict)
    old = json.loads((state / "gateway.json").read_text())
    os.kill(old["supervisor_pid"], signal.SIGKILL)  # a crash: its children live on, holding the port
    assert gs.wait_gone(old["supervisor_pid"], 10)
    assert gs.pid_alive(old["proxy_pid"])

    closed = f"http://127.0.0.1:{free_port()}/v1"
    done = subprocess.run(
        [sys.executable, "-c", RESOLVE, closed], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    new = json.loads((state / "gateway.json").read_text())
    assert new["supervisor_pid"] != old["supervisor_pid"]
    assert not gs.pid_alive(old["proxy_pid"]) and not gs.pid_alive(old["model_pid"])
    assert ours_running(state) == [new["supervisor_pid"]]
    assert json.loads(done.stdout.strip().splitlines()[-1])["url"].endswith(f":{new['proxy_port']}/v1")


def test_status_and_stop(shared: dict[str, object]) -> None:
    state, env = shared["state"], shared["env"]
    assert isinstance(state, Path) and isinstance(env, dict)
    info = json.loads((state / "gateway.json").read_text())
    status = subprocess.run(
        [UV, "run", "chat.py", "gateway", "status"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert status.returncode == 0, status.stderr
    assert "running, listening" in status.stdout
    assert f"pid {info['proxy_pid']}" in status.stdout and f"pid {info['model_pid']}" in status.stdout
    assert str(state / "gateway.log") in status.stdout
    assert re.search(r"memory: \d+ MB in all", status.stdout)

    stop = subprocess.run(
        [UV, "run", "chat.py", "gateway", "stop"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert stop.returncode == 0 and "stopped" in stop.stdout
    for pid in (info["supervisor_pid"], info["proxy_pid"], info["model_pid"]):
        assert not gs.pid_alive(pid)
    assert not (state / "gateway.json").exists()
    again = subprocess.run(
        [UV, "run", "chat.py", "gateway", "status"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 1 and "not running" in again.stdout


# --- end to end, exactly as a user would -------------------------------------------------------------------


def kaiwa(args: list[str], env: dict[str, str], timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [UV, "run", "chat.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    return done, time.monotonic() - started


def test_offline_chat_end_to_end(tmp_path: Path) -> None:
    if default_proxy_answers():
        pytest.skip("a proxy answers at localhost:4000, so kaiwa rightly uses it instead of starting its own")
    state = tmp_path / "state"
    env = gateway_env(state, free_port())
    env["SESSION_DB_PATH"] = str(tmp_path / "sessions.sqlite3")
    try:
        first, cold = kaiwa(["--input", "What is the capital of France?", "--model", "local"], env)
        assert first.returncode == 0, first.stderr
        assert "starting the local gateway" in first.stderr
        assert first.stdout.strip()
        match = re.search(r"SESSION_ID=([0-9a-f-]{36})", first.stderr)
        assert match, first.stderr
        sid = match.group(1)

        second, warm = kaiwa(["--input", "And of Germany?", "--model", "local", "--session-id", sid], env)
        assert second.returncode == 0, second.stderr
        assert "starting the local gateway" not in second.stderr  # reused
        assert second.stdout.strip()
        print(f"first run (gateway start + turn): {cold:.1f}s; warm run: {warm:.1f}s")

        items = stored_items(env["SESSION_DB_PATH"], sid)
        user_texts = [json.dumps(i) for i in items if i.get("role") == "user"]
        assert len(user_texts) == 2 and "France" in user_texts[0] and "Germany" in user_texts[1]
        assert sum(1 for i in items if i.get("role") == "assistant") >= 2

        key = (state / "gateway.key").read_text().strip()
        for text in (first.stdout, first.stderr, second.stdout, second.stderr, (state / "gateway.log").read_text()):
            assert key not in text
        assert key not in Path(env["SESSION_DB_PATH"]).read_bytes().decode(errors="replace")

        # Compacting summarises with the session's own model (local): LITELLM_MODEL's default alias, whose cloud
        # settings this machine lacks, is not what it needs.
        compacted, _ = kaiwa(["sessions", "compact", sid[-8:]], env)
        assert compacted.returncode == 0, compacted.stderr
        assert "with local" in compacted.stderr and "SESSION_ID=" in compacted.stderr
    finally:
        stop, _ = kaiwa(["gateway", "stop"], env, timeout=120)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    assert ours_running(state) == []
