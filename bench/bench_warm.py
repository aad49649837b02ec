"""Instant kaiwa (kaiwa/warm): a whole call cold, warm, and against the floor, in one run.

    uv run python bench/bench_warm.py [--runs 7] [--no-install]

For `--help`, `sessions list` and a one-shot `--input hi` through a real LiteLLM proxy in front of an instant
upstream (common.fake_a_proxy), each through `uv run chat.py` and through the installed `kaiwa` command
(`uv tool install --compile-bytecode .` into a temporary folder, as tests/cli/test_install.py does):
- cold: KAIWA_WARM=0, the whole import in the call;
- warm: handed to the warm process; its CPU is the caller's (wait4) plus the forked child's (the warm
  process's children_cpu before and after);
- floor: the same request from a Python process already running (kaiwa's click command called again for
  `--help` and `sessions list`; the openai client's streamed Responses call for the one-shot, its first
  request made before timing).
Median wall and CPU per call; the idle warm processes' RSS; what starting one costs the first call.
Loopback only; stops what it starts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import bench_env, fake_a_proxy  # noqa: E402

from kaiwa.warm.client import query  # noqa: E402
from kaiwa.warm.paths import Files  # noqa: E402

FLOOR = r"""
import contextlib, io, json, os, sys, time, statistics
runs = int(sys.argv[1])
def timed(fn):
    walls, cpus = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w); cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)
from kaiwa.cli import command
def cli(*args):
    def go():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            command()(args=list(args), standalone_mode=False)
    return go
cli("--help")()  # the command built, the first call's lazy imports done
cli("sessions", "list")()
from openai import OpenAI
client = OpenAI(base_url=os.environ["LITELLM_BASE_URL"], api_key=os.environ["LITELLM_API_KEY"], max_retries=1)
def turn():
    with client.responses.stream(model="fake-a", input="hi") as stream:
        for event in stream:
            pass
turn()
print(json.dumps({"help": timed(cli("--help")), "sessions": timed(cli("sessions", "list")), "one-shot": timed(turn)}))
"""

# The hand-off as the entry runs it, timed inside the caller: with KAIWA_WARM=0 (returns at once) and with no warm
# process yet (the code stamp, a failed connect, the double fork that starts one in the background).
HANDOFF = r"""
import sys, time
began = time.perf_counter()
from kaiwa.warm.client import handoff
assert handoff() is None
print(time.perf_counter() - began)
"""

COMMANDS = {"--help": ["--help"], "sessions list": ["sessions", "list"], "one-shot": ["--input", "hi"]}
FLOOR_OF = {"--help": "help", "sessions list": "sessions", "one-shot": "one-shot"}


def measure(cmd: list[str], env: dict[str, str], cwd: Path, runs: int, files: Files | None) -> tuple[float, float]:
    """Median wall and CPU of the whole call: the caller's own rusage, plus its warm child's when warm."""
    walls, cpus = [], []
    for _ in range(runs):
        before = _children_cpu(files)
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)  # fmt: skip
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - began)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-600:].decode(errors='replace')}")
        child = _children_cpu(files) - before if files is not None else 0.0
        cpus.append(usage.ru_utime + usage.ru_stime + child)
    return statistics.median(walls), statistics.median(cpus)


def _children_cpu(files: Files | None) -> float:
    if files is None:
        return 0.0
    info = query(files, "status")
    if not isinstance(info, dict):
        raise SystemExit("the warm process stopped answering")
    return float(info["children_cpu"])


def first_call(python: str, env: dict[str, str], cwd: Path, root: Path, runs: int) -> None:
    """What starting a warm process costs the first (cold) call: the hand-off inside it, and the whole `--help`
    (the warm process's imports compete for the CPU with the call's own), each against KAIWA_WARM=0."""
    root.mkdir()
    off = {**env, "KAIWA_WARM": "0"}
    inside: dict[str, list[float]] = {"off": [], "spawn": []}
    whole: dict[str, list[float]] = {"off": [], "spawn": []}
    for n in range(runs):
        for way in ("off", "spawn"):
            runtime = root / f"{way}{n}"
            runtime.mkdir(mode=0o700)
            run_env = {**(off if way == "off" else env), "XDG_RUNTIME_DIR": str(runtime)}
            done = subprocess.run([python, "-c", HANDOFF], env=run_env, cwd=cwd, capture_output=True, text=True)
            inside[way].append(float(done.stdout))
            files = Files(str(runtime / "kaiwa"), key_of(python, env, cwd))
            if way == "spawn":
                stop_and_wait(wait_warm(files), files)
                runtime = root / f"{way}{n}b"
                runtime.mkdir(mode=0o700)
                run_env["XDG_RUNTIME_DIR"] = str(runtime)
            began = time.perf_counter()
            subprocess.run([python, "-m", "kaiwa", "--help"], env=run_env, cwd=cwd, capture_output=True, check=True)
            whole[way].append(time.perf_counter() - began)
            if way == "spawn":
                second = Files(str(runtime / "kaiwa"), files.key)
                stop_and_wait(wait_warm(second), second)
    added = (statistics.median(inside["spawn"]) - statistics.median(inside["off"])) * 1000
    print(f"the first call (no warm process yet), median of {runs}:")
    print(f"  hand-off inside the call: {statistics.median(inside['off']) * 1000:.1f} ms with KAIWA_WARM=0, "
          f"{statistics.median(inside['spawn']) * 1000:.1f} ms starting a warm process → +{added:.1f} ms")
    wall = (statistics.median(whole["spawn"]) - statistics.median(whole["off"])) * 1000
    print(f"  the whole cold --help: {statistics.median(whole['off']) * 1000:.0f} ms with KAIWA_WARM=0, "
          f"{statistics.median(whole['spawn']) * 1000:.0f} ms starting one → {wall:+.0f} ms wall\n")  # fmt: skip


def stop_and_wait(info: dict[str, Any], files: Files, timeout: float = 30) -> None:
    """Stop a warm process and wait until it has exited (its teardown would otherwise share the next run's CPU)."""
    query(files, "stop")
    stat = Path(f"/proc/{info['pid']}/stat")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if stat.read_text().rpartition(")")[2].split()[0] == "Z":
                return  # exited (a zombie until something reaps it)
        except FileNotFoundError:
            return
        time.sleep(0.02)


def wait_warm(files: Files, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = query(files, "status")
        if isinstance(info, dict):
            return info
        time.sleep(0.2)
    log = Path(files.log).read_text()[-1500:] if Path(files.log).exists() else "(no log)"
    others = sorted(p.name for p in Path(files.folder).iterdir())
    raise SystemExit(f"no warm process within {timeout:.0f} s; {files.log}:\n{log}\nfolder: {others}")


def install(root: Path) -> Path:
    root.mkdir()
    env = {**os.environ, "UV_TOOL_DIR": str(root / "tools"), "UV_TOOL_BIN_DIR": str(root / "bin")}
    env.pop("VIRTUAL_ENV", None)
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    uv = shutil.which("uv") or "uv"
    subprocess.run([uv, "tool", "install", "--python", str(python), "--compile-bytecode", str(REPO)], env=env,
                   cwd=root, check=True, capture_output=True, timeout=900)  # fmt: skip
    return root / "bin" / "kaiwa"


def key_of(python: str, env: dict[str, str], cwd: Path) -> str:
    """The installation's key as its own interpreter computes it (cwd: where that interpreter finds kaiwa)."""
    code = "from kaiwa.warm.paths import install_key; print(install_key())"
    done = subprocess.run([python, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def pyc_count(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("__pycache__/*.pyc"))


def line(name: str, wall: float, cpu: float, floor: tuple[float, float] | None = None) -> None:
    over = f"  floor +{(wall - floor[0]) * 1000:5.0f} ms wall, +{(cpu - floor[1]) * 1000:5.0f} ms cpu" if floor else ""
    print(f"  {name:<34} {wall * 1000:8.0f} ms wall {cpu * 1000:8.0f} ms cpu{over}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-install", action="store_true", help="skip the installed `kaiwa` (uv tool install)")
    args = parser.parse_args()
    uv = shutil.which("uv") or "uv"
    with tempfile.TemporaryDirectory(prefix="kaiwa-bw-") as tmp:
        home = Path(tmp) / "home"
        runtime = Path(tmp) / "rt"
        home.mkdir()
        runtime.mkdir(mode=0o700)
        env = bench_env(home, XDG_RUNTIME_DIR=str(runtime))
        venv_pyc = pyc_count(REPO / ".venv" / "lib")
        # The checkout's own modules (an editable install: uv compiles only site-packages), as `kaiwa` has them.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "kaiwa")], check=True)
        print(f"bytecode: compiled — .venv {venv_pyc} .pyc (uv sync --compile-bytecode), the checkout's kaiwa/ by "
              "compileall here, the installed kaiwa by uv tool install --compile-bytecode; "
              "PYTHONDONTWRITEBYTECODE=1 as on these machines\n")  # fmt: skip
        bare = measure([sys.executable, "-c", "pass"], env, home, args.runs, None)
        uv_bare = measure([uv, "run", "--frozen", "--no-sync", "python", "-c", "pass"], env, REPO, args.runs, None)
        line("python -c pass", *bare)
        line("uv run python -c pass", *uv_bare)
        print(f"  → `uv run` adds {(uv_bare[0] - bare[0]) * 1000:.0f} ms wall a call\n")

        first_call(sys.executable, env, REPO, Path(tmp) / "first", args.runs)

        upstream, proxy = fake_a_proxy(Path(tmp))
        try:
            env.update(LITELLM_BASE_URL=proxy.base_url, LITELLM_API_KEY=proxy.master_key, LITELLM_MODEL="fake-a")
            subprocess.run([sys.executable, str(REPO / "chat.py"), "--input", "seed"], env={**env, "KAIWA_WARM": "0"},
                           cwd=home, check=True, capture_output=True)  # fmt: skip
            floors_raw = subprocess.run([sys.executable, "-c", FLOOR, str(args.runs)], env=env, cwd=home,
                                        capture_output=True, text=True, check=True).stdout  # fmt: skip
            floors = {k: tuple(v) for k, v in json.loads(floors_raw).items()}
            entries: dict[str, tuple[list[str], Path, str]] = {
                "uv run chat.py": ([uv, "run", "--frozen", "--no-sync", "chat.py"], REPO, sys.executable),
            }
            if not args.no_install:  # first: its install is slow, the rest then runs on an idle proxy
                tool = install(Path(tmp) / "tool")
                shebang = tool.read_text(errors="replace").splitlines()[0].removeprefix("#!").strip()
                tool_pyc = pyc_count(Path(tmp) / "tool" / "tools")
                entries["installed kaiwa"] = ([str(tool)], home, shebang)
                print(f"installed kaiwa: {tool_pyc} .pyc files (uv tool install --compile-bytecode)\n")
            rss = {}
            for entry, (prefix, cwd, python) in entries.items():
                files = Files(str(runtime / "kaiwa"), key_of(python, env, cwd))
                subprocess.run([*prefix, "--help"], env=env, cwd=cwd, capture_output=True, check=True)  # starts it
                wait_warm(files)
                print(f"{entry}:")
                for name, command in COMMANDS.items():
                    cold = measure([*prefix, *command], {**env, "KAIWA_WARM": "0"}, cwd, args.runs, None)
                    warm = measure([*prefix, *command], env, cwd, args.runs, files)
                    floor = floors[FLOOR_OF[name]]
                    line(f"{name}: floor (running Python)", *floor)
                    line(f"{name}: cold", *cold, floor)
                    line(f"{name}: warm", *warm, floor)
                    print(f"  {'':<34} warm/cold: ×{cold[0] / warm[0]:.1f} wall, ×{cold[1] / warm[1]:.1f} cpu")
                time.sleep(1)
                info = query(files, "status") or {}
                rss[entry] = info.get("rss") or 0
                print(f"  idle warm process: {rss[entry] / 2**20:.0f} MB RSS, {info.get('modules')} modules, "
                      f"imported in {info.get('imports_seconds', 0):.1f} s\n")  # fmt: skip
                query(files, "stop")
        finally:
            proxy.stop()
            upstream.stop()
            for info_file in runtime.rglob("warm-*.sock"):
                query(Files(str(info_file.parent), info_file.name[5:13]), "stop")


if __name__ == "__main__":
    main()
