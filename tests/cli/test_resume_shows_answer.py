"""Resuming a session on a terminal (`-s ID`) shows where it stands: the whole last answer, every line of it (the
end of a very long one). chat.py on a real pty; the session comes in through `sessions import`, no model is asked."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pexpect

from tests.cli.test_sessions import A, export_doc, put
from tests.conftest import CHAT, Kaiwa
from tests.harness.ports import free_port


def test_resume_shows_every_line_of_the_last_answer(tmp_path: Path) -> None:
    kaiwa = Kaiwa(tmp_path, {"LITELLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "LITELLM_API_KEY": "sk-x"})
    answer = "\n".join(f"step {n}: do the thing number {n}" for n in range(1, 9))
    put(kaiwa, export_doc(A, "the plan", "how?", answer))
    child = pexpect.spawn(
        sys.executable,
        [str(CHAT), "-s", A[-8:]],
        cwd=str(kaiwa.home),
        env={**kaiwa.env, "COLUMNS": "100", "LINES": "40", "TERM": "xterm"},
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 100),
    )
    try:
        child.expect("›")  # the prompt: the description is written before it
        seen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", child.before)
        assert f"resumed {A[-8:]}" in seen, seen
        assert "step 8: do the thing number 8" in seen, seen  # the last line too, not only the first
        for n in range(1, 8):
            assert f"step {n}: do the thing number {n}" in seen, seen
    finally:
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
