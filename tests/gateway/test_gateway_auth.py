"""The local gateway on a shared machine (issue 31, items 1 and 6): every loopback service it starts wants a key,
requests without one get a quiet 401, its log stays bounded, and only authenticated use keeps it running.

One real gateway (LiteLLM proxy + llama.cpp model server, started by `chat.py gateway start`) for the module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.test_offline import REPO, free_port, gateway_env, ours_running

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, key: str | None = None, data: bytes | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if data is not None:
        headers["content-type"] = "application/json"
    try:
        with _OPENER.open(urllib.request.Request(url, data=data, headers=headers), timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


FIRST_RUN_UV = """#!/bin/sh
# A first run's `uv sync` (issue 32.7: 124 "+ pkg==ver" lines, builds), then the real uv does the work (cached).
if [ "$1" = "sync" ]; then
  i=0; while [ $i -lt 124 ]; do echo " + package-$i==1.0.$i"; i=$((i+1)); done
  i=0; while [ $i -lt 23 ]; do echo "   Building llama-cpp-python==0.3.36"; i=$((i+1)); done
fi
exec "$REAL_UV" "$@"
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Started as on a first run (a `uv` that reports a long install), not on a terminal: stderr captured."""
    state = tmp_path_factory.mktemp("gateway-auth")
    env = gateway_env(state, free_port())
    uv = state.parent / "uv"
    uv.write_text(FIRST_RUN_UV)
    uv.chmod(0o755)
    env.update(UV=str(uv), REAL_UV=shutil.which("uv") or "uv")
    started = subprocess.run(
        [sys.executable, str(REPO / "chat.py"), "gateway", "start"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    info = json.loads((state / "gateway.json").read_text())
    key = (state / "gateway.key").read_text().strip()
    yield {"state": state, "env": env, "info": info, "key": key, "stderr": started.stderr}
    subprocess.run([sys.executable, str(REPO / "chat.py"), "gateway", "stop"], cwd=REPO, env=env, timeout=120)
    assert ours_running(state) == []


def test_the_first_run_says_a_few_lines_then_one_summary(gateway: dict[str, Any]) -> None:
    lines = gateway["stderr"].splitlines()
    assert not any(line.lstrip().startswith(("+ ", "Building")) for line in lines), gateway["stderr"]
    # Each step, "still …" at doubling intervals (15 s, 30 s, 60 s, …), then the summary.
    assert len(lines) <= 8, gateway["stderr"]
    assert "the local gateway is ready at" in lines[-1] and "124 packages installed" in lines[-1]


def test_the_model_server_refuses_a_request_without_its_key(gateway: dict[str, Any]) -> None:
    model = f"http://127.0.0.1:{gateway['info']['model_port']}/v1"
    assert get(f"{model}/models") == 401
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}).encode()
    assert get(f"{model}/chat/completions", data=body) == 401
    assert gateway["key"].encode() not in (gateway["state"] / "litellm_config.yaml").read_bytes()


def test_unauthenticated_requests_are_a_quiet_401_that_does_not_keep_the_gateway_alive(
    gateway: dict[str, Any],
) -> None:
    state: Path = gateway["state"]
    url = f"http://127.0.0.1:{gateway['info']['proxy_port']}"
    last_used = state / "gateway.last-used"
    long_ago = time.time() - 3600
    os.utime(last_used, (long_ago, long_ago))
    log = state / "gateway.log"
    before = log.stat().st_size
    answers = [get(f"{url}/v1/models", key="sk-wrong") for _ in range(25)]
    answers += [get(f"{url}/v1/responses", data=b'{"model": "local", "input": "hi"}') for _ in range(25)]
    assert answers == [401] * 50
    grown = log.read_bytes()[before:]
    assert b"Traceback" not in grown and b"prisma" not in grown
    assert len(grown) < 50 * 200, f"{len(grown)} bytes of log for 50 refused requests"
    assert last_used.stat().st_mtime == long_ago  # refused requests are no use: the idle stop still comes

    assert get(f"{url}/v1/models", key=gateway["key"]) == 200
    deadline = time.monotonic() + 10
    while last_used.stat().st_mtime == long_ago and time.monotonic() < deadline:
        time.sleep(0.05)
    assert last_used.stat().st_mtime > long_ago  # the owner's request is use


def test_the_log_is_bounded(tmp_path: Path) -> None:
    """The supervisor's log writer (the gateway's only writer of gateway.log) keeps two files of the limit."""
    code = (
        "import sys; from pathlib import Path; from kaiwa.gateway.supervisor import BoundedLog\n"
        "log = BoundedLog(Path(sys.argv[1]), limit=4096)\n"
        "for i in range(1000): log.write(b'x' * 99 + b'\\n')\n"
    )
    path = tmp_path / "gateway.log"
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, check=True, timeout=60)
    assert 0 < path.stat().st_size <= 4096
    assert 0 < (tmp_path / "gateway.log.1").stat().st_size <= 4096
    assert oct(path.stat().st_mode & 0o777) == "0o600"
