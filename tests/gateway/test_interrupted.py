"""An interrupted first-run gateway set-up stops everything kaiwa started (issue 21, item 9), on every way out:
Ctrl-C (SIGINT to the terminal's process group), SIGTERM, and a reader that closes the output (`2>&1 | head -3`).

Two phases: preparing the gateway's environment (`uv sync`, minutes on a first run: a stand-in `uv` that keeps
building, with a child of its own, stands for it) and starting the gateway (the real supervisor, LiteLLM proxy and
model server, interrupted before they answer)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaiwa.gateway import state as gs
from tests.gateway.test_offline import REPO, free_port, gateway_env, ours_running

SLOW_UV = """#!/bin/sh
# Stands for `uv sync` building the model runtime on a first run: it prints progress and never finishes.
echo $$ >> "$KAIWA_TEST_PIDS"
sleep 600 &
echo $! >> "$KAIWA_TEST_PIDS"
while :; do echo "   Building llama-cpp-python==0.3.36"; sleep 0.3; done
"""

# A build slow to stop: it notes each SIGTERM and goes on (and on writing into a closed pipe), so only SIGKILL ends it.
STUBBORN_UV = """#!/bin/sh
trap 'echo term >> "$KAIWA_TEST_PIDS.term"' TERM
trap '' PIPE
echo $$ >> "$KAIWA_TEST_PIDS"
sleep 600 &
echo $! >> "$KAIWA_TEST_PIDS"
while :; do echo "   Building llama-cpp-python==0.3.36"; sleep 0.3; done
"""

# A Ctrl-C as the set-up starts: the stand-in presses it for the user, on kaiwa, as soon as it has said its pid.
EARLY_CTRL_C_UV = SLOW_UV.replace('echo $$ >> "$KAIWA_TEST_PIDS"', 'echo $$ >> "$KAIWA_TEST_PIDS"\nkill -INT $PPID', 1)


def wait_for(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def running(pid: int) -> bool:
    """Alive and not a zombie (a stopped child its parent has not reaped yet does not run)."""
    try:
        return gs.pid_alive(pid) and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if running(pid)]


def start(tmp_path: Path, env: dict[str, str], *, read_output: bool = False) -> subprocess.Popen[bytes]:
    """`chat.py gateway start` in its own process group (as a shell runs a foreground job)."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "chat.py"), "gateway", "start"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if read_output else subprocess.PIPE,
        start_new_session=True,
    )


@pytest.fixture(autouse=True)
def no_stand_in_left(tmp_path: Path) -> Iterator[None]:
    """Whatever a failing test leaves of its stand-in uv (one that ignores SIGTERM runs for ever) is killed."""
    yield
    pids = tmp_path / "uv.pids"
    for pid in [int(p) for p in pids.read_text().split()] if pids.is_file() else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def uv_stand_in(tmp_path: Path, text: str) -> tuple[dict[str, str], Path]:
    script = tmp_path / "uv"
    script.write_text(text)
    script.chmod(0o755)
    pids = tmp_path / "uv.pids"
    env = gateway_env(tmp_path / "state", free_port())
    env.update(UV=str(script), KAIWA_TEST_PIDS=str(pids))
    return env, pids


@pytest.fixture
def slow_uv(tmp_path: Path) -> tuple[dict[str, str], Path]:
    return uv_stand_in(tmp_path, SLOW_UV)


def started_pids(pids: Path) -> list[int]:
    wait_for(lambda: pids.is_file() and len(pids.read_text().split()) == 2, 30, "the uv stand-in and its child")
    return [int(p) for p in pids.read_text().split()]


def ended(proc: subprocess.Popen[bytes], uv: list[int], way_out: str) -> bytes:
    """kaiwa's stderr once it has exited; if it does not within 30 s, a failure that says where it was."""
    try:
        return proc.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        err = proc.communicate()[1].decode(errors="replace")
        still = f"kaiwa still ran 30 s after {way_out} (uv alive: {alive(uv)}); stderr:\n{err[-3000:]}"
        raise AssertionError(still) from None


@pytest.mark.parametrize("way_out", ["SIGINT to the process group (Ctrl-C)", "SIGTERM", "SIGHUP"])
def test_preparing_the_environment_stops_with_kaiwa(
    tmp_path: Path, slow_uv: tuple[dict[str, str], Path], way_out: str
) -> None:
    env, pid_file = slow_uv
    proc = start(tmp_path, env)
    uv = started_pids(pid_file)
    if way_out.startswith("SIGINT"):
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(getattr(signal, way_out))
    err = ended(proc, uv, way_out)
    wait_for(lambda: not alive(uv), 10, f"uv and its child to stop after {way_out}")
    lines = [line for line in err.decode().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err.decode(), err.decode()
    if way_out.startswith("SIGINT"):
        assert proc.returncode == 130 and "interrupted" in lines[0]
    else:
        number = getattr(signal, way_out)
        assert proc.returncode == 128 + number and f"stopped by {way_out}" in lines[0], (proc.returncode, lines)
        assert "nothing kaiwa started for it is left running" in lines[0]


def test_a_ctrl_c_as_the_set_up_starts_stops_it(tmp_path: Path) -> None:
    """Ctrl-C while kaiwa started uv (before it held the process's handle): kaiwa exited 130 and uv's build ran on
    (18 runs in 20 before the fix, here)."""
    env, pid_file = uv_stand_in(tmp_path, EARLY_CTRL_C_UV)
    proc = start(tmp_path, env)
    wait_for(pid_file.is_file, 30, "the uv stand-in")
    err = ended(proc, [], "a Ctrl-C as uv started")
    uv = [int(p) for p in pid_file.read_text().split()]  # its child too, if it got as far as starting it
    wait_for(lambda: not alive(uv), 10, "uv and its child to stop after a Ctrl-C as uv started")
    lines = [line for line in err.decode().splitlines() if line.startswith("error:")]
    assert proc.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0], err.decode()


def test_a_second_ctrl_c_does_not_cut_the_stop_short(tmp_path: Path) -> None:
    """Ctrl-C pressed again while kaiwa stops a set-up that is slow to stop (as people press it): the second one
    broke off the stop after SIGTERM, before SIGKILL, and left the build running after kaiwa had exited."""
    env, pid_file = uv_stand_in(tmp_path, STUBBORN_UV)
    proc = start(tmp_path, env)
    uv = started_pids(pid_file)
    os.killpg(proc.pid, signal.SIGINT)
    wait_for(Path(f"{pid_file}.term").is_file, 30, "kaiwa to ask the set-up to stop (SIGTERM)")
    os.killpg(proc.pid, signal.SIGINT)
    err = ended(proc, uv, "two Ctrl-C")
    wait_for(lambda: not alive(uv), 10, "uv and its child to stop after two Ctrl-C")
    lines = [line for line in err.decode().splitlines() if line.startswith("error:")]
    assert proc.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0], err.decode()
    assert "Traceback" not in err.decode(), err.decode()


def test_a_reader_that_leaves_stops_the_set_up(tmp_path: Path, slow_uv: tuple[dict[str, str], Path]) -> None:
    """`chat.py gateway start 2>&1 | head -1`: the set-up ends with the reader, not minutes later (it writes
    nothing more for a while: uv's lines are not echoed)."""
    env, pid_file = slow_uv
    proc = start(tmp_path, env, read_output=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first, first
    uv = started_pids(pid_file)
    proc.stdout.close()
    assert proc.wait(timeout=30) == 141
    wait_for(lambda: not alive(uv), 10, "uv and its child to stop after the reader left")


def test_starting_the_gateway_stops_with_kaiwa(tmp_path: Path) -> None:
    """Interrupted while the supervisor starts the proxy and the model server: all three are stopped."""
    state_dir = tmp_path / "state"
    proc = start(tmp_path, gateway_env(state_dir, free_port()))
    state_file = state_dir / "gateway.json"
    wait_for(state_file.is_file, 120, "the supervisor to start its children")  # uv sync itself is cached here
    state = json.loads(state_file.read_text())
    children = [state["supervisor_pid"], state["proxy_pid"], state["model_pid"]]
    assert alive(children) == children
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    wait_for(lambda: not alive(children), 30, "the supervisor, proxy and model server to stop")
    assert ours_running(state_dir) == [] and not state_file.exists()
