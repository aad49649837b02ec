"""Calls made the way a careless or hostile caller makes them still behave as cold ones: a closed stdin, stdout or
stderr, a warm process killed under a call, …"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kaiwa, Run
from tests.harness import warm
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply
from tests.warm.conftest import alive, wait_until


def _run_with_closed(kaiwa: Kaiwa, fd: int, *args: str, **env: str) -> Run:
    proc = subprocess.run(
        kaiwa.command(*args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=kaiwa.home,
        env={**kaiwa.env, **env},
        preexec_fn=lambda: os.close(fd),  # noqa: PLW1509 (no threads in the test process at this point)
        timeout=90,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("fd", [0, 1, 2])
def test_a_caller_with_a_closed_stdio_fd_is_met_as_a_cold_call_is(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, fd: int
) -> None:
    """With fd 0, 1 or 2 closed the client's socket took that number and was handed over as the child's stdin
    (the child read the protocol: both waited forever) or output (the child wrote into the protocol); cold, a
    closed stdout was a traceback. Now a closed stdin or stderr is /dev/null, a closed stdout one line, exit 1."""
    runs = {}
    for mode in ("warm", "cold"):
        upstream.script(Reply(text="an answer"))
        asked = len(upstream.model_requests())
        runs[mode] = _run_with_closed(kaiwa, fd, "--input", "hi", **({"KAIWA_WARM": "0"} if mode == "cold" else {}))
        assert len(upstream.model_requests()) == asked + (fd != 1)  # a closed stdout: nothing sent
    warm_run, cold_run = runs["warm"], runs["cold"]
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}")
    assert (warm_run.code, warm_run.out) == (cold_run.code, cold_run.out)
    assert uuid.sub("<id>", warm_run.err) == uuid.sub("<id>", cold_run.err)
    assert "Traceback" not in cold_run.err
    if fd == 1:
        assert cold_run.code == 1 and cold_run.err.startswith("error: stdout is closed"), cold_run.err
        assert len(cold_run.err.splitlines()) == 1
    else:
        assert cold_run.code == 0 and cold_run.out == "an answer\n", cold_run.err


@pytest.fixture
def own_warm(kaiwa: Kaiwa, tmp_path: Path) -> Iterator[tuple[Kaiwa, dict[str, Any]]]:
    """A warm process of this test's own (it is killed), in a runtime folder of its own."""
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    user = Kaiwa(kaiwa.home, {k: v for k, v in kaiwa.env.items() if k.startswith("LITELLM_")})
    user.env["XDG_RUNTIME_DIR"] = str(runtime)
    info = warm.ensure_warm(user.env, user.home)
    yield user, info
    warm.stop_all(runtime)


def test_ctrl_c_still_reaches_the_child_once_the_warm_process_died_under_it(
    own_warm: tuple[Kaiwa, dict[str, Any]], upstream: OpenAIChatStandIn
) -> None:
    """The caller forwarded its signals only through the warm process: once that was killed, Ctrl-C did nothing
    and the turn ran to its end and was stored."""
    user, info = own_warm
    upstream.script(Reply(text="word " * 60, chunks=60, chunk_delay=0.2))
    proc = user.start("--input", "a long story")
    assert proc.stdout is not None
    assert proc.stdout.read(4) == "word"  # served warm: the answer streams
    os.kill(info["pid"], signal.SIGKILL)
    wait_until(lambda: not alive(info["pid"]), 10, "the warm process gone")
    time.sleep(0.5)  # the caller has seen it go
    began = time.monotonic()
    run = Kaiwa.interrupt(proc, after_stdout_bytes=0)
    assert time.monotonic() - began < 5, run.err
    assert run.code == 130 and "interrupted" in run.err, run.err  # the child's own code (it left it for the caller)
    assert "SESSION_ID=" not in run.err, run.err
    assert not user.db.exists() or stored_turns(user.db) == 0  # nothing of the interrupted turn


def test_a_turn_the_warm_process_died_under_ends_with_the_childs_own_exit_code(
    own_warm: tuple[Kaiwa, dict[str, Any]], upstream: OpenAIChatStandIn
) -> None:
    """The child finished and stored the turn, but the caller said "exit status unknown" and exited 1 (a script
    retrying on failure would send it again): the child leaves its code in the runtime folder for the caller."""
    user, info = own_warm
    upstream.script(Reply(text="word " * 10, chunks=10, chunk_delay=0.2))
    proc = user.start("--input", "a short story")
    assert proc.stdout is not None
    assert proc.stdout.read(4) == "word"  # served warm: the answer streams
    os.kill(info["pid"], signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert ("word" + out).count("word") == 10 and "SESSION_ID=" in err and "went away" not in err, err
    assert stored_turns(user.db) == 2  # the question and the answer
    assert not list(Path(user.env["XDG_RUNTIME_DIR"], "kaiwa").glob("exit-*"))  # read and removed


def stored_turns(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM agent_messages").fetchone()[0])


@pytest.mark.parametrize("command", ["stop", "status"])
def test_warm_stop_and_status_start_no_warm_process(kaiwa: Kaiwa, tmp_path: Path, command: str) -> None:
    """With none running, `warm stop` ran cold and, as every cold call, started one: a stop left one running."""
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    user = Kaiwa(kaiwa.home, {"XDG_RUNTIME_DIR": str(runtime)})
    run = user("warm", command)
    assert run.code == (0 if command == "stop" else 1) and "not running" in run.out, run
    time.sleep(3)  # a warm process takes its lock at once, then waits for its caller and imports
    assert not list((runtime / "kaiwa").glob("*.lock"))
    assert warm.stop_strays([runtime]) == []
