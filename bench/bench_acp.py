"""How long an editor waits for kaiwa: `chat.py acp` spawned, `initialize` answered, `session/new` answered (the
store opened, the proxy's aliases asked), against the floor of the same Python starting and exiting — cold
(KAIWA_WARM=0) and warm (a warm kaiwa serves the call), in the same run.

    uv run python bench/bench_acp.py [--runs 5]

No model is called: the proxy URL points at a closed port on 127.0.0.1 (the alias list is then empty).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHAT = REPO / "chat.py"


async def one(env: dict[str, str], cwd: str) -> tuple[float, float]:
    """(seconds to the initialize answer, seconds to the session/new answer) from the spawn."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHAT), "acp", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, env=env, cwd=cwd,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    marks: list[float] = []
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}},
        {"jsonrpc": "2.0", "id": 2, "method": "session/new", "params": {"cwd": cwd, "mcpServers": []}},
    ]
    for request in requests:
        proc.stdin.write((json.dumps(request) + "\n").encode())
        await proc.stdin.drain()
        answer = json.loads(await proc.stdout.readline())
        assert "result" in answer, answer
        marks.append(time.perf_counter() - started)
    proc.stdin.close()
    await proc.wait()
    return marks[0], marks[1]


def floor(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "SESSION_DB_PATH": f"{home}/s.sqlite3",
               "KAIWA_STATE_DIR": f"{home}/state", "KAIWA_MCP_CONFIG": "", "XDG_RUNTIME_DIR": f"{home}/run",
               "LITELLM_BASE_URL": "http://127.0.0.1:9/v1"}  # fmt: skip
        if "PYTHONDONTWRITEBYTECODE" in os.environ:
            env["PYTHONDONTWRITEBYTECODE"] = os.environ["PYTHONDONTWRITEBYTECODE"]
        os.makedirs(f"{home}/run", mode=0o700)
        subprocess.run([sys.executable, str(CHAT), "--help"], env=env, capture_output=True)  # starts a warm kaiwa
        status = [sys.executable, str(CHAT), "warm", "status"]
        for _ in range(300):  # its imports take a while on a loaded machine
            if subprocess.run(status, env=env, capture_output=True).returncode == 0:
                break
            time.sleep(1)
        else:
            raise SystemExit("no warm kaiwa after 300 s")
        base = statistics.median(floor(env) for _ in range(runs))
        rows = []
        for label, extra in (("cold", {"KAIWA_WARM": "0"}), ("warm", {})):
            asyncio.run(one({**env, **extra}, home))  # a first call: a warm kaiwa is ready, caches are filled
            figures = [asyncio.run(one({**env, **extra}, home)) for _ in range(runs)]
            init = statistics.median(f[0] for f in figures)
            new = statistics.median(f[1] for f in figures)
            rows.append((label, init, new))
        subprocess.run([sys.executable, str(CHAT), "warm", "stop"], env=env, capture_output=True)
    bytecode = "off (PYTHONDONTWRITEBYTECODE=1)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(f"median of {runs}; bytecode writing {bytecode}; python -c pass: {base:.3f} s")
    print(f"{'':6} {'initialize':>12} {'session/new':>12} {'new / floor':>12}")
    for label, init, new in rows:
        print(f"{label:6} {init:11.3f}s {new:11.3f}s {new / base:11.1f}x")


if __name__ == "__main__":
    main()
