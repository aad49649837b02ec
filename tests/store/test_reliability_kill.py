"""SIGKILL at random moments of a turn (starting, streaming a slow answer, committing), many times over.

After each kill: `PRAGMA integrity_check` is ok; the session holds either what it held before or the whole turn;
and a resume sends the upstream a history with no dangling user message (user/assistant strictly alternate).
Default: 5 kills; KAIWA_RELIABILITY_FULL=1: 40; KAIWA_RELIABILITY_KILLS=N: N. KAIWA_RELIABILITY_SEED fixes the moments.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import time

import pytest

from tests.conftest import Kaiwa
from tests.harness.bodies import said
from tests.harness.db import stored_items
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply

SLOW = 600  # seconds a chat.py run may take on a loaded CI machine (2 shared cores)
FULL = os.environ.get("KAIWA_RELIABILITY_FULL") == "1"
KILLS = int(os.environ.get("KAIWA_RELIABILITY_KILLS", "0")) or (40 if FULL else 5)
SEED = int(os.environ.get("KAIWA_RELIABILITY_SEED", "0")) or random.SystemRandom().randrange(1, 1 << 30)

pytestmark = pytest.mark.slow


STREAM_SECONDS = 8.0


def slow_answer() -> Reply:
    return Reply(text="streaming word " * 40, chunks=40, chunk_delay=STREAM_SECONDS / 40)


def timed_turn(kaiwa: Kaiwa, sid: str) -> tuple[float, float]:
    started = time.monotonic()
    proc = kaiwa.start("--input", "calibrate", "--session-id", sid)
    assert proc.stdout is not None
    proc.stdout.read(1)
    first = time.monotonic()
    proc.communicate(timeout=SLOW)
    assert proc.returncode == 0
    return time.monotonic() - started, time.monotonic() - first


def test_sigkill_at_random_moments_never_leaves_half_a_turn(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    rng = random.Random(SEED)
    first = kaiwa("--input", "start", timeout=SLOW)
    sid = first.session_id
    assert first.code == 0 and sid
    # How long a whole slow turn takes here, start to exit, and from its first answer byte to exit (the answer,
    # the commit, the exit): the kills land anywhere in those.
    upstream.script(slow_answer())
    whole, tail = timed_turn(kaiwa, sid)
    seen = {"no answer yet": 0, "mid-answer": 0, "answered": 0}
    kept = {"nothing": 0, "the whole turn": 0}
    for i in range(KILLS):
        before = stored_items(kaiwa.db, sid)
        upstream.reset()
        upstream.script(slow_answer())
        out_path = kaiwa.home / f"kill-{i}.out"
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                kaiwa.command("--input", f"killed {i}", "--session-id", sid),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.DEVNULL,
                cwd=kaiwa.home,
                env=kaiwa.env,
                start_new_session=True,  # its own process group: the kill takes all of it
            )
            if rng.random() < 0.25:  # any moment: starting, reading the history, asking, streaming, committing
                time.sleep(rng.uniform(0.0, 1.05) * whole)
            else:  # once the answer streams: mid-answer, at its end, while the turn commits
                deadline = time.monotonic() + whole * 3
                while out_path.stat().st_size == 0 and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 1.1) * tail)
            with contextlib.suppress(ProcessLookupError):  # it may have finished: that is a moment too
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        answer = out_path.read_text(errors="replace")
        moment = "no answer yet" if not answer else "answered" if answer.count("word") >= 40 else "mid-answer"
        seen[moment] += 1

        with sqlite3.connect(kaiwa.db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"kill {i} (seed {SEED})"
        after = stored_items(kaiwa.db, sid)
        if after == before:
            kept["nothing"] += 1
        else:
            added = after[len(before) :]
            assert after[: len(before)] == before, f"kill {i} (seed {SEED})"
            assert [a.get("role") for a in added] == ["user", "assistant"], (added, SEED)
            assert said([added[0]]) == [("user", f"killed {i}")]
            kept["the whole turn"] += 1

        upstream.reset()
        resumed = kaiwa("--input", f"resume {i}", "--session-id", sid, timeout=SLOW)
        assert resumed.code == 0, resumed.err
        history = said(upstream.model_requests()[-1].body["messages"])
        roles = [role for role, _ in history]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"], (history, SEED)
        assert history[-1] == ("user", f"resume {i}")
        print(
            f"\nkill {i + 1}/{KILLS}: {moment}, kept {'the whole turn' if after != before else 'nothing'}", flush=True
        )
    print(
        f"\nSIGKILL x {KILLS} (seed {SEED}, whole turn {whole:.1f} s, {tail:.1f} s from first byte to exit):"
        f" moments {seen}; the session kept {kept};"
        " 0 corruptions, 0 dangling messages"
    )
