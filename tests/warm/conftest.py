"""Fixtures of the warm-process tests: runs of chat.py that say whether the warm process served them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CHAT, Kaiwa, Run
from tests.harness import warm

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

pytestmark = pytest.mark.skipif(warm.COLD, reason="KAIWA_TEST_COLD=1: the warm process is off")


def run_counted(kaiwa: Kaiwa, *args: str, **kw: str) -> tuple[Run, int]:
    """A call, and how many calls the run's warm process served meanwhile (1: this one was warm)."""
    before = warm.served(kaiwa.env)
    run = kaiwa(*args, **kw)
    return run, warm.served(kaiwa.env) - before


def call(env: dict[str, str], cwd: Path, *args: str, script: Path = CHAT, stdin: str = "", timeout: float = 120) -> Run:
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def wait_until(check: Callable[[], object], timeout: float = 120, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)
    return value


def alive(pid: int) -> bool:
    return warm._alive(pid)


@pytest.fixture
def runtime(kaiwa: Kaiwa) -> Path:
    """The run's runtime folder (XDG_RUNTIME_DIR/kaiwa)."""
    return Path(os.environ["XDG_RUNTIME_DIR"]) / "kaiwa"
