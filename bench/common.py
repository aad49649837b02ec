"""What every bench script shares: running a command and reading its own rusage, a table printer, an instant
Responses-API upstream, and a session seeded with N items in the Agents SDK's own format.

    from bench.common import measure, Table, ResponsesStandIn, history_items, seed_items, bench_env

Stdlib only (plus the repo's tests/standins for the HTTP server base), so a bench never measures itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kaiwa.store.sqlite.schema import SDK_TABLES as SDK_SCHEMA  # noqa: E402  (the SDK's own tables)
from tests.harness.history import history_items  # noqa: E402,F401  (re-exported for bench scripts)
from tests.standins.responses import ResponsesStandIn  # noqa: E402,F401


# -- measuring ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figures:
    """Median wall and CPU seconds (user+sys of the process and its children) and the peak RSS in MB."""

    wall: float
    cpu: float
    rss: float


def measure(
    cmd: list[str], env: dict[str, str], runs: int, cwd: str | None = None, stdin: bytes | None = None
) -> Figures:
    """Run `cmd` `runs` times; its own rusage from wait4 (not a running maximum over earlier children)."""
    walls, cpus, rss = [], [], 0.0
    for _ in range(runs):
        with tempfile.TemporaryFile() as out:
            began = time.perf_counter()
            proc = subprocess.Popen(
                cmd,
                env=env,
                stdout=out,
                stderr=out,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                cwd=cwd or env.get("HOME"),
            )
            if stdin is not None and proc.stdin is not None:
                proc.stdin.write(stdin)
                proc.stdin.close()
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - began)
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                out.seek(0)
                raise SystemExit(f"{' '.join(cmd)} failed ({code}): {out.read()[-800:].decode(errors='replace')}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss = max(rss, usage.ru_maxrss / 1024)
    return Figures(statistics.median(walls), statistics.median(cpus), rss)


class Table:
    """Rows of figures, each optionally against a baseline row of the same run: printed as they come."""

    HEADER = f"{'':<46} {'wall ms':>9} {'cpu ms':>9} {'rss MB':>7}  {'over baseline (cpu)':<28}"

    def __init__(self, title: str) -> None:
        print(f"\n{title}\n{self.HEADER}")

    def row(self, name: str, f: Figures, base: Figures | None = None) -> None:
        against = ""
        if base is not None:
            against = f"{(f.cpu - base.cpu) * 1000:+7.0f} ms  ×{f.cpu / base.cpu:.2f}"
        print(f"{name:<46} {f.wall * 1000:9.0f} {f.cpu * 1000:9.0f} {f.rss:7.0f}  {against}", flush=True)


def bench_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for kaiwa: its own HOME, store and state, no MCP servers, bytecode as on the machines."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "SESSION_DB_PATH": str(home / "sessions.sqlite3"),
        "KAIWA_STATE_DIR": str(home / "state"),
        "KAIWA_MCP_CONFIG": "",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        **extra,
    }


# -- a long session in the SDK's own format -----------------------------------------------------------------


def seed_items(db_path: Path, session_id: str, items: list[dict[str, Any]]) -> None:
    """Append `items` to a session in the SDK's tables (`SQLiteSession`'s schema: one JSON item per row).
    Run a real kaiwa turn on the session first so kaiwa's own tables and records exist in its current schema."""
    with sqlite3.connect(db_path) as conn:
        conn.executescript(SDK_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO agent_sessions (session_id) VALUES (?)", (session_id,))
        conn.executemany(
            "INSERT INTO agent_messages (session_id, message_data) VALUES (?, ?)",
            [(session_id, json.dumps(item)) for item in items],
        )


def session_id_from(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("SESSION_ID="):
            return line.split("=", 1)[1].strip()
    raise SystemExit(f"no SESSION_ID in kaiwa's output: {output[-500:]}")


def fake_a_proxy(home: Path) -> tuple[Any, Any]:
    """The OpenAI-compatible stand-in and a real LiteLLM proxy with the shipped config plus alias `fake-a` on it."""
    from tests.harness.proxy import Proxy, build_test_config
    from tests.standins.openai_compat import OpenAIChatStandIn

    upstream = OpenAIChatStandIn().start()
    extra = [
        {
            "model_name": "fake-a",
            "litellm_params": {
                "model": "openai/fake",
                "api_base": f"{upstream.url}/v1",
                "api_key": "sk-fake",
                "use_chat_completions_api": True,
            },
        }
    ]
    config = build_test_config(REPO / "litellm_config.yaml", home / "config.json", {}, extra)
    return upstream, Proxy.start(config, {}, home / "proxy.log")
