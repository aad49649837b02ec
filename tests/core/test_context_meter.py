"""The context meter (issue 25): the window from the proxy's `/model/info` (`max_input_tokens`) or
KAIWA_CONTEXT_WINDOW, the count from the provider's last usage. Through the real proxy to the OpenAI-compatible
stand-in, which counts each request to `fake-small` itself (`request_tokens`) and reports that count as the usage.

Tolerance: none for the meter after a turn — it IS the provider's count (its input plus the answer), so it must
equal the stand-in's own figure exactly."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import SMALL_MODEL, SMALL_WINDOW, Kaiwa
from tests.harness.term import Term
from tests.standins.openai_compat import OpenAIChatStandIn, request_tokens
from tests.standins.script import Reply


def _done(out: str) -> dict[str, object]:
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return next(line for line in lines if line["type"] == "done")


def test_done_carries_the_providers_count_against_the_window(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="first answer", output_tokens=9), Reply(text="second answer", output_tokens=13))
    first = kaiwa("--json", "--model", SMALL_MODEL, "--input", "hello there")
    assert first.code == 0, first.err
    sid = first.session_id or _done(first.out)["session_id"]
    second = kaiwa("--json", "--model", SMALL_MODEL, "--session-id", str(sid), "--input", "and again")
    assert second.code == 0, second.err
    counted = request_tokens(upstream.model_requests()[-1].body)
    assert _done(second.out)["context"] == {"used": counted + 13, "window": SMALL_WINDOW}
    assert counted > request_tokens(upstream.model_requests()[0].body)  # the history is in the count
    shown = json.loads(kaiwa("sessions", "show", str(sid), "--json").out)
    assert shown["context"] == {"used": counted + 13, "window": SMALL_WINDOW}  # `sessions show` has it too


def test_the_setting_overrides_the_window_and_an_unknown_one_is_said_once(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    upstream.script(Reply(text="a"), Reply(text="b"), Reply(text="c"))
    first = kaiwa("--json", "--input", "one")  # fake-a: the proxy states no window
    assert "context" not in _done(first.out)
    sid = str(_done(first.out)["session_id"])
    second = kaiwa("--input", "two", "--session-id", sid)
    assert second.code == 0 and "states no context window for fake-a" in second.err
    third = kaiwa("--json", "--input", "three", "--session-id", sid, KAIWA_CONTEXT_WINDOW="5000")
    assert _done(third.out)["context"] == {"used": 11 + 7, "window": 5000}  # the scripted usage: 11 in, 7 out


@pytest.fixture
def term(kaiwa: Kaiwa) -> Iterator[Term]:
    t = Term(kaiwa, "--model", SMALL_MODEL)
    yield t
    t.close()


def test_toolbar_and_context_command_on_a_pty(term: Term, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="an answer", output_tokens=20))
    term.ready()
    term.turn("what fills the context?")
    counted = request_tokens(upstream.model_requests()[-1].body) + 20
    term.wait_for(f"ctx {round(100 * counted / SMALL_WINDOW)}%")
    term.mark()
    term.enter("/context")
    shown = term.wait_for("last answer")
    assert f"context: {counted:,} of {SMALL_WINDOW:,} tokens" in shown
    assert "500 kept for the answer" in shown  # the proxy's max_output_tokens for fake-small
    assert "instructions" in shown and "(estimate)" in shown
