"""Issue 21 for one-shot turns, through the real proxy: a reader that leaves mid-answer (`| head -2`) gets a quiet
end while the paid turn is finished and stored; compaction's own cost is recorded; the set-up of a failed first
turn in `--json` names no session that does not exist."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import FAKE_INPUT_PRICE, FAKE_OUTPUT_PRICE, Kaiwa
from tests.harness.db import stored_texts as stored
from tests.harness.db import turn_rows
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply

LINES = "".join(f"line {n} of a long answer\n" for n in range(400))


@pytest.mark.parametrize("json_lines", [False, True])
def test_a_reader_that_leaves_mid_answer_gets_a_stored_turn_and_a_quiet_end(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, json_lines: bool
) -> None:
    """`chat.py -i … | head -2`: the request is sent and paid for, so kaiwa finishes the turn and stores it (a
    later `-c` continues it) instead of cancelling it; nothing more is written, no error, exit 141."""
    upstream.script(Reply(text=LINES, chunks=200, chunk_delay=0.01))
    read, write = os.pipe()
    args = ["--input", "a long answer please", *(["--json"] if json_lines else [])]
    proc = subprocess.Popen(kaiwa.command(*args), stdout=write, stderr=subprocess.PIPE, cwd=kaiwa.home, env=kaiwa.env)
    os.close(write)
    with os.fdopen(read, "rb") as reader:  # `head -2`: two lines, then the reader is gone
        first, second = reader.readline(), reader.readline()
    assert first and second
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 141, text
    assert "error" not in text and "Traceback" not in text and "not sent" not in text
    if json_lines:  # the first line names the session; stderr stays quiet on success
        sid = json.loads(first)["session_id"]
    else:
        sid = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("SESSION_ID="))
    assert [t for _, t in stored(kaiwa.db, sid)] == ["a long answer please", LINES]  # the whole answer, stored


def test_compaction_cost_is_recorded(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="An answer."), Reply(text="The summary.", input_tokens=300, output_tokens=40))
    sid = kaiwa("--input", "a question").session_id
    assert sid
    compacted = kaiwa("sessions", "compact", sid, "-m", "fake-a")
    assert compacted.code == 0, compacted.err
    assert compacted.session_id
    [(tin, tout, _, _, cost, _)] = turn_rows(kaiwa.db, compacted.session_id)
    assert (tin, tout) == (300, 40)
    assert cost == pytest.approx(300 * FAKE_INPUT_PRICE + 40 * FAKE_OUTPUT_PRICE)
    shown = json.loads(kaiwa("sessions", "show", compacted.session_id, "--json").out)
    assert shown["cost"] == pytest.approx(cost)
