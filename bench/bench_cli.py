"""kaiwa's speed and memory, each against a baseline measured in the same run.

    uv run python bench/bench_cli.py [--runs 5]

- `--help` and `sessions`: kaiwa's start-up against a bare `python -c pass` (what the interpreter costs anyway).
- One turn through a real LiteLLM proxy (from the gateway env) in front of an instant local upstream:
  `chat.py --input` against a hand-written script that makes the same streamed Responses call with the openai
  client alone (what kaiwa adds: the Agents SDK, the session store, rendering).
Prints wall time (median), CPU time and peak RSS for each, and the ratios. Loopback only; stops what it starts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import fake_a_proxy  # noqa: E402

BASELINE_TURN = """
import sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=1)
with client.responses.stream(model="fake-a", input="hello") as stream:
    for event in stream:
        if event.type == "response.output_text.delta":
            sys.stdout.write(event.delta)
print()
"""


def measure(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds (user+sys) and peak RSS (MB) of the command, over `runs`."""
    walls, cpus, rss = [], [], 0.0
    for _ in range(runs):
        with tempfile.TemporaryFile() as out:
            began = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL, cwd=env.get("HOME"))
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not a running maximum
            walls.append(time.perf_counter() - began)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                out.seek(0)
                raise SystemExit(f"{' '.join(cmd)} failed: {out.read()[-500:].decode(errors='replace')}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss = max(rss, usage.ru_maxrss / 1024)
    return statistics.median(walls), statistics.median(cpus), rss


def row(name: str, figures: tuple[float, float, float], base: tuple[float, float, float] | None = None) -> None:
    wall, cpu, rss = figures
    ratio = f"  ×{wall / base[0]:.1f} wall, ×{cpu / base[1]:.1f} cpu" if base else ""
    print(f"{name:<38} {wall * 1000:8.0f} ms wall {cpu * 1000:8.0f} ms cpu {rss:7.0f} MB rss{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "SESSION_DB_PATH": str(home / "s.sqlite3"),
            "KAIWA_STATE_DIR": str(home / "state"),
            "KAIWA_MCP_CONFIG": "",
        }
        print(f"{args.runs} runs each: median wall and CPU time, peak RSS of the process.\n")
        bare = measure([py, "-c", "pass"], env, args.runs)
        row("python -c pass (baseline)", bare)
        row("chat.py --help", measure([py, str(REPO / "chat.py"), "--help"], env, args.runs), bare)
        row("chat.py sessions", measure([py, str(REPO / "chat.py"), "sessions"], env, args.runs), bare)
        imports = measure([py, "-c", "import agents"], env, args.runs)
        row("python -c 'import agents' (for scale)", imports, bare)

        upstream, proxy = fake_a_proxy(home)
        try:
            print(f"\nproxy ready in {proxy.started_in:.1f} s, RSS {proxy.rss_kb() / 1024:.0f} MB\n")
            turn_env = {
                **env,
                "LITELLM_BASE_URL": proxy.base_url,
                "LITELLM_API_KEY": proxy.master_key,
                "LITELLM_MODEL": "fake-a",
            }
            script = home / "baseline_turn.py"
            script.write_text(BASELINE_TURN)
            measure([py, str(script), proxy.base_url, proxy.master_key], turn_env, 1)  # warm the proxy
            base = measure([py, str(script), proxy.base_url, proxy.master_key], turn_env, args.runs)
            row("openai client, one streamed turn (baseline)", base)
            row(
                "chat.py --input (new session)",
                measure([py, str(REPO / "chat.py"), "--input", "hello"], turn_env, args.runs),
                base,
            )
            row(
                "chat.py --input --no-tools",
                measure([py, str(REPO / "chat.py"), "--input", "hello", "--no-tools"], turn_env, args.runs),
                base,
            )
        finally:
            proxy.stop()
            upstream.stop()


if __name__ == "__main__":
    main()
