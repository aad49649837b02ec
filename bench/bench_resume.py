"""Resuming long sessions, start-up, and what precompiled bytecode buys — each against a baseline in the same run.

    uv run python bench/bench_resume.py                 # everything (about 10 minutes on a busy 2-core box)
    uv run python bench/bench_resume.py --sizes 10,1000 --runs 3 --no-bytecode --no-tool

1. Resume: a session of N stored items (seeded straight into the SQLite file, in the SDK's own format), one more
   turn: `chat.py --input … --session-id …` against an instant Responses-API stand-in (no proxy: the figures are
   kaiwa's process alone). Baseline ("floor"): `import agents` plus one streamed openai call sending the same
   input list (read from a JSON file; sent through `extra_body`, i.e. what sending those bytes costs). "before":
   the same kaiwa with KAIWA_SLOW_HISTORY=1 (the Runner reads the history, the openai client walks every item).
2. Start-up: `chat.py --help` against `python -c pass`; a one-shot turn in a new session against the floor with
   an empty history.
3. Bytecode: the machines set PYTHONDONTWRITEBYTECODE=1, so nothing is ever cached: the same commands from a fresh
   `uv sync --frozen` environment (no .pyc at all; the resume runs use it too), from one made with
   `uv sync --frozen --compile-bytecode`, and the `kaiwa` command from `uv tool install --compile-bytecode .`,
   all built and measured in this run.

CPU = user+sys of the process (wait4 rusage), the figure that does not depend on what else the machine runs;
wall and peak RSS beside it. Runs of the compared commands are interleaved; medians are shown.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Figures, ResponsesStandIn, Table, bench_env, history_items, measure, seed_items

from tests.harness.db import stored_items

CHAT = str(REPO / "chat.py")
FLOOR = """
import asyncio, json, sys
import agents  # noqa: F401  what kaiwa imports anyway
from openai import AsyncOpenAI

items = json.load(open(sys.argv[3]))

async def main():
    client = AsyncOpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0)
    stream = await client.responses.create(model="fake", stream=True, extra_body={"input": items})
    async for event in stream:
        if event.type == "response.output_text.delta":
            sys.stdout.write(event.delta)
    await client.close()

asyncio.run(main())
"""


def interleaved(
    cmds: dict[str, list[str]], env: dict[str, str], runs: int, **extra_env: dict[str, str]
) -> dict[str, Figures]:
    """Each command `runs` times, taking turns, so a change in the machine's load hits them all alike."""
    got: dict[str, list[Figures]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            got[name].append(measure(cmd, {**env, **extra_env.get(name, {})}, 1))
    return {name: _median(figs) for name, figs in got.items()}


def _median(figs: list[Figures]) -> Figures:
    def mid(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    return Figures(mid([f.wall for f in figs]), mid([f.cpu for f in figs]), max(f.rss for f in figs))


def new_session(py: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [py, CHAT, "--input", "hello", "--no-tools"], env=env, capture_output=True, text=True, cwd=env["HOME"]
    )
    if out.returncode != 0:
        raise SystemExit(f"kaiwa failed: {out.stderr[-800:]}")
    return next(line.split("=", 1)[1] for line in out.stderr.splitlines() if line.startswith("SESSION_ID="))


# -- 1. resume ------------------------------------------------------------------------------------------------------
def bench_resume(
    py: str, home: Path, stand_in: ResponsesStandIn, sizes: list[int], runs: int, slow_runs: int, processes: bool
) -> None:
    floor_script = home / "floor.py"
    floor_script.write_text(FLOOR)
    rows: list[tuple[int, int, dict[str, list[float]]]] = []
    whole = Table("Resume as whole processes: chat.py --session-id against the floor process (same input)")
    for size in sizes:
        folder = home / f"resume-{size}"
        folder.mkdir()
        env = bench_env(folder, LITELLM_BASE_URL=f"{stand_in.url}/v1", LITELLM_API_KEY="sk-bench", LITELLM_MODEL="m")
        sid = new_session(py, env)  # kaiwa's own tables, in whatever schema this checkout writes
        seed_items(folder / "sessions.sqlite3", sid, history_items(max(0, size - 2)))
        items_file = folder / "input.json"
        items = [*stored_items(folder / "sessions.sqlite3", sid), {"content": "again", "role": "user"}]
        items_file.write_text(json.dumps(items))
        worker = [py, str(REPO / "bench" / "turn_worker.py"), f"{stand_in.url}/v1", str(folder / "sessions.sqlite3")]
        seen = len(stand_in.sizes)
        out = subprocess.run(
            [*worker, sid, str(items_file), str(runs), "--slow-runs", str(slow_runs)],
            env=env,
            capture_output=True,
            text=True,
            cwd=folder,
        )
        if out.returncode != 0:
            raise SystemExit(f"turn_worker failed: {out.stderr[-1500:]}")
        rows.append((size, max(stand_in.sizes[seen:]), json.loads(out.stdout)))
        if processes:
            kaiwa = [py, CHAT, "--input", "again", "--session-id", sid]
            floor = [py, str(floor_script), f"{stand_in.url}/v1", "sk-bench", str(items_file)]
            got = interleaved({"floor": floor, "kaiwa": kaiwa}, env, runs)
            whole.row(f"floor process, {size:,} items", got["floor"])
            whole.row(f"kaiwa process, {size:,} items", got["kaiwa"], got["floor"])

    def mid(values: list[float]) -> float:
        return sorted(values)[len(values) // 2] if values else float("nan")

    print("\nResume, per turn in a warm process (CPU ms, all threads; imports and first-call costs excluded):")
    print(f"{'items':>8} {'MB sent':>8} {'floor':>8} {'kaiwa':>8} {'over':>7} {'growth':>7} {'before':>9} {'over':>9}")
    base_over = mid(rows[0][2]["turn"]) - mid(rows[0][2]["floor"])
    for size, sent, r in rows:
        floor, turn, slow = mid(r["floor"]), mid(r["turn"]), mid(r["slow"])
        over = turn - floor
        print(
            f"{size:>8,} {sent / 1e6:8.2f} {floor:8.0f} {turn:8.0f} {over:+7.0f} {over - base_over:+7.0f}"
            f" {slow:9.0f} {slow - floor:+9.0f}"
        )
    print(
        "  floor: read the same input list from a JSON file + one streamed openai call sending it; kaiwa: a turn"
        " (ChatEngine.run_turn);\n  over = kaiwa - floor; growth = over - over at the smallest size; before ="
        " KAIWA_SLOW_HISTORY=1 (the old path)."
    )


# -- 2 and 3. start-up, with and without bytecode ---------------------------------------------------------------------
def bench_startup(envs: dict[str, tuple[str, list[str]]], home: Path, stand_in: ResponsesStandIn, runs: int) -> None:
    """`envs`: label -> (that environment's python, the command that runs kaiwa there: [python, chat.py] or
    [kaiwa])."""
    floor_script = home / "floor.py"
    floor_script.write_text(FLOOR)
    empty = home / "empty-input.json"
    empty.write_text(json.dumps([{"content": "hello", "role": "user"}]))
    cmds: dict[str, list[str]] = {}
    for label, (py, prefix) in envs.items():
        cmds[f"python -c pass [{label}]"] = [py, "-c", "pass"]
        cmds[f"--help [{label}]"] = [*prefix, "--help"]
        cmds[f"import agents [{label}]"] = [py, "-c", "import agents"]
        cmds[f"floor, empty history [{label}]"] = [py, str(floor_script), f"{stand_in.url}/v1", "sk-bench", str(empty)]
        cmds[f"one-shot --input hello [{label}]"] = [*prefix, "--input", "hello"]
    env = bench_env(home, LITELLM_BASE_URL=f"{stand_in.url}/v1", LITELLM_API_KEY="sk-bench", LITELLM_MODEL="m")
    got = interleaved(cmds, env, runs)
    table = Table("Start-up (PYTHONDONTWRITEBYTECODE=1 everywhere: only precompiled .pyc files are read)")
    for label in envs:
        table.row(f"python -c pass [{label}]", got[f"python -c pass [{label}]"])
        table.row(f"--help [{label}]", got[f"--help [{label}]"], got[f"python -c pass [{label}]"])
        table.row(f"import agents [{label}]", got[f"import agents [{label}]"], got[f"python -c pass [{label}]"])
        table.row(f"floor, empty history [{label}]", got[f"floor, empty history [{label}]"])
        table.row(
            f"one-shot --input hello [{label}]",
            got[f"one-shot --input hello [{label}]"],
            got[f"floor, empty history [{label}]"],
        )
    labels = list(envs)
    if len(labels) > 1:
        print("\nBytecode against none (CPU):")
        for label in labels[1:]:
            for what in ("--help", "one-shot --input hello"):
                a, b = got[f"{what} [{labels[0]}]"].cpu, got[f"{what} [{label}]"].cpu
                print(
                    f"  {what:<24} {labels[0]}: {a * 1000:6.0f} ms   {label}: {b * 1000:6.0f} ms   ×{a / b:.1f} faster"
                )


def uv(*args: str, env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    found = shutil.which("uv")
    cmd = [found] if found else [sys.executable, "-m", "uv"]
    subprocess.run([*cmd, *args], cwd=REPO, env={**os.environ, **(env or {})}, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000", help="history sizes to resume (items)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--slow-runs", type=int, default=1, help="runs of the old path per size (0: skip it)")
    parser.add_argument("--no-bytecode", action="store_true", help="skip building the bytecode environment")
    parser.add_argument("--no-tool", action="store_true", help="skip `uv tool install --compile-bytecode .`")
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--no-startup", action="store_true")
    parser.add_argument("--processes", action="store_true", help="also time resumes as whole processes (noisy)")
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    print(f"kaiwa at {REPO} ({head.strip()}), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f};")
    print(f"medians of {args.runs} interleaved runs.")
    stand_in = ResponsesStandIn(keep_bodies=False).start()
    try:
        with tempfile.TemporaryDirectory(prefix="kaiwa-bench-") as tmp:
            home = Path(tmp)
            # Fresh environments, so "no .pyc" means none: a checkout's .venv collects .pyc files from any process
            # that ran without PYTHONDONTWRITEBYTECODE (the test suite's subprocesses do).
            plain = home / "venv-plain"
            took = uv("sync", "--frozen", "--no-dev", env={"UV_PROJECT_ENVIRONMENT": str(plain)})
            print(f"\n`uv sync --frozen --no-dev` into a new environment: {took:.0f} s")
            py = str(plain / "bin" / "python")
            envs = {"no .pyc (uv sync)": (py, [py, CHAT])}
            if not args.no_bytecode:
                venv = home / "venv-bytecode"
                took = uv(
                    "sync", "--frozen", "--no-dev", "--compile-bytecode", env={"UV_PROJECT_ENVIRONMENT": str(venv)}
                )
                print(f"`uv sync --frozen --no-dev --compile-bytecode` into a new environment: {took:.0f} s")
                envs["uv sync --compile-bytecode"] = (
                    str(venv / "bin" / "python"),
                    [str(venv / "bin" / "python"), CHAT],
                )
            if not args.no_tool:
                tool_env = {"UV_TOOL_DIR": str(home / "tools"), "UV_TOOL_BIN_DIR": str(home / "bin")}
                took = uv("tool", "install", "--compile-bytecode", ".", env=tool_env)
                print(f"`uv tool install --compile-bytecode .`: {took:.0f} s")
                tool_py = str(home / "tools" / "kaiwa" / "bin" / "python")
                envs["uv tool install --compile-bytecode"] = (tool_py, [str(home / "bin" / "kaiwa")])
            if not args.no_resume:
                sizes = [int(s) for s in args.sizes.split(",")]
                bench_resume(py, home, stand_in, sizes, args.runs, args.slow_runs, args.processes)
            if not args.no_startup:
                (home / "startup").mkdir()
                bench_startup(envs, home / "startup", stand_in, args.startup_runs)
    finally:
        stand_in.stop()


if __name__ == "__main__":
    main()
