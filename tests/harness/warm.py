"""The tests' side of the warm process (kaiwa/warm): one runtime folder for the whole run, so one warm kaiwa
serves the calls of every test (each still with its own HOME, state and database), started once and waited
for, and stopped with every other warm process in that folder at the end.

KAIWA_TEST_COLD=1 runs every chat.py call of the suite cold instead (KAIWA_WARM=0)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kaiwa.warm.client import query
from kaiwa.warm.paths import Files, runtime_dir

REPO = Path(__file__).resolve().parents[2]
COLD = os.environ.get("KAIWA_TEST_COLD") == "1"


def make_runtime() -> Path:
    """A short 0700 folder (socket paths must fit in 107 bytes), exported as XDG_RUNTIME_DIR to every child."""
    folder = Path(tempfile.mkdtemp(prefix="kaiwa-rt-"))
    os.environ["XDG_RUNTIME_DIR"] = str(folder)
    return folder


def files_for(env: dict[str, str]) -> Files:
    """The warm files of this checkout's installation as a call with `env` finds them."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        return Files(runtime_dir())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def status(env: dict[str, str]) -> dict[str, Any] | None:
    answer = query(files_for(env), "status")
    return answer if isinstance(answer, dict) else None


def served(env: dict[str, str]) -> int:
    info = status(env)
    return int(info["served"]) if info else -1


def ensure_warm(env: dict[str, str], cwd: Path, timeout: float = 120) -> dict[str, Any]:
    """A warm process for this checkout, started by one cold call if none answers; waits until it serves."""
    info = status(env)
    if info is None:
        subprocess.run([sys.executable, str(REPO / "chat.py"), "--help"], env=env, cwd=cwd, capture_output=True)
        deadline = time.monotonic() + timeout
        while (info := status(env)) is None:
            if time.monotonic() > deadline:
                log = files_for(env).log
                tail = Path(log).read_text()[-2000:] if Path(log).exists() else "(no log)"
                raise AssertionError(f"no warm process after {timeout:.0f} s; its log:\n{tail}")
            time.sleep(0.2)
    return info


def stop_all(folder: Path, grace: float = 10) -> None:
    """Stop every warm process whose files are in `folder` (this checkout's, an installed kaiwa's, a copy's)."""
    pids = []
    for info_file in folder.rglob("warm-*.json"):
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(json.loads(info_file.read_text())["pid"]))
    for sock in folder.rglob("warm-*.sock"):
        key = sock.name.removeprefix("warm-").removesuffix(".sock")
        query(Files(str(sock.parent), key), "stop")
    _wait_or_kill(pids, grace)


def stop_strays(roots: list[Path], grace: float = 10) -> list[int]:
    """Warm processes a test started in a folder of its own (its own KAIWA_STATE_DIR, no shared runtime
    folder): found by the folder in their command line, stopped; their pids, so the run can tell."""
    marks = [str(root).encode() for root in roots]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            line = (entry / "cmdline").read_bytes()
            if b"kaiwa.warm.server" in line and any(mark in line for mark in marks):
                found.append(int(entry.name))
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # it retires: its calls finish, then it exits
    _wait_or_kill(found, grace)
    return found


def _wait_or_kill(pids: list[int], grace: float) -> None:
    """Wait up to `grace` seconds in all for `pids` to exit; SIGKILL what is left."""
    deadline = time.monotonic() + grace
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
