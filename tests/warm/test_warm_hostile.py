"""Calls made the way a careless or hostile caller makes them still behave as cold ones: a closed stdin, stdout or
stderr, …"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import Kaiwa, Run
from tests.harness import warm
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply


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
def test_a_caller_with_a_closed_stdio_fd_runs_cold(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, fd: int) -> None:
    """With fd 0, 1 or 2 closed the client's socket took that number and was handed over as the child's stdin
    (the child read the protocol: both waited forever) or output (the child wrote into the protocol)."""
    runs = {}
    for mode in ("warm", "cold"):
        upstream.script(Reply(text="an answer"))
        before = warm.served(kaiwa.env)
        runs[mode] = _run_with_closed(
            kaiwa, fd, "--debug", "--input", "hi", **({"KAIWA_WARM": "0"} if mode == "cold" else {})
        )
        assert warm.served(kaiwa.env) == before  # never served warm
    assert runs["warm"].code == runs["cold"].code
    assert runs["warm"].out == runs["cold"].out
    if fd == 0:
        assert runs["warm"].code == 0 and runs["warm"].out == "an answer\n", runs["warm"].err
    if fd != 2:
        assert f"running cold (file descriptor {fd} is closed)" in runs["warm"].err
