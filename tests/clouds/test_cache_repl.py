"""The interactive mode's side of issue 18, in a real pseudo-terminal: /verbosity sets text.verbosity for the next
turns (and off again), and /usage shows what the prompt cache read and wrote, with what it saved."""

from __future__ import annotations

import re
import secrets

from tests.conftest import Kaiwa
from tests.harness.term import Term
from tests.standins.anthropic import AnthropicStandIn
from tests.standins.responses import ResponsesStandIn
from tests.standins.script import Reply

INSTRUCTIONS = "Keep every answer to the point, with file paths where they help the reader. " * 70


def test_verbosity_and_usage(kaiwa: Kaiwa, native: ResponsesStandIn, foundry: AnthropicStandIn) -> None:
    native.script(Reply(text="Brief."), Reply(text="Plain."))
    foundry.script(Reply(text="One."), Reply(text="Two."))
    term = Term(kaiwa, "--model", "fake-native", "--system", f"[{secrets.token_hex(4)}] {INSTRUCTIONS}")
    try:
        term.ready()
        term.enter("/verbosity")
        term.after("verbosity: off")
        term.enter("/verbosity HIGH")
        term.after("verbosity: high")
        term.turn("hi")
        assert native.model_requests()[-1].body["text"]["verbosity"] == "high"
        term.enter("/verbosity loud")
        term.after("is not one of low, medium, high, off")
        term.enter("/verbosity off")
        term.after("verbosity: off")
        term.turn("again")
        assert "verbosity" not in (native.model_requests()[-1].body.get("text") or {})

        term.enter("/verbosity low")
        term.after("verbosity: low")
        term.enter("/model azure-foundry-claude")
        term.after("from the next turn on")
        first = term.turn("one", usage=" out")
        assert "verbosity low not sent: azure-foundry-claude does not take it" in first
        second = term.turn("two", usage=" out")
        assert "not sent" not in second  # said once per model
        read = foundry.cache_usage[-1].read_tokens
        assert read > 1024 and f"({read:,} cached, " in second
        term.enter("/usage")
        screen = term.after("caching saved $")
        written = sum(u.write_tokens for u in foundry.cache_usage)
        assert f"of the input: {read:,} cached · {written:,} written · caching saved $" in screen, screen
        totals = next(line for line in screen.splitlines() if re.match(r" +\d+ turns · ", line))  # not the toolbar
        assert f" in ({sum(u.read_tokens for u in foundry.cache_usage):,} cached, {written:,} written) · " in totals
    finally:
        term.close()
