"""Spending caps (issue 27), through the real proxy: a turn whose input would pass a cap is refused before anything
is sent; the 80% warning comes once; `usage` adds up what the store holds; the proxy key's own budget is shown
and its refusal is one line.

Turn costs are the proxy's: the stand-in reports the scripted token counts and LiteLLM prices them at fake-a's
prices (tests/conftest.py), so 50,000 input and 1,000 output tokens cost 50,000 × 2e-6 + 1,000 × 8e-6 = $0.108,
and the next turn's input (the previous context, 51,000 tokens, plus the new message) about $0.102.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAKE_INPUT_PRICE, FAKE_OUTPUT_PRICE, Kaiwa
from tests.harness.term import Term
from tests.standins.key_budgets import KeyBudgets, VirtualKey
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply

BIG = Reply(text="a long answer", input_tokens=50_000, output_tokens=1_000)
FIRST_COST = 50_000 * FAKE_INPUT_PRICE + 1_000 * FAKE_OUTPUT_PRICE  # $0.108


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def usage(kaiwa: Kaiwa, **env: str) -> dict:
    run = kaiwa("usage", "--json", **env)
    assert run.code == 0, run.err
    return json.loads(run.out)


def stored_turns(kaiwa: Kaiwa, session_id: str) -> int:
    run = kaiwa("sessions", "show", session_id, "--json")
    assert run.code == 0, run.err
    return int(json.loads(run.out)["turns"])


@pytest.mark.parametrize("setting", ["KAIWA_MAX_COST_DAY", "KAIWA_MAX_COST_MONTH", "KAIWA_MAX_COST_SESSION"])
def test_a_turn_that_would_pass_a_cap_is_refused_before_it_is_sent(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, setting: str
) -> None:
    cap = {setting: "0.15"}
    upstream.script(BIG)
    first = kaiwa("--input", "start", **cap)
    assert first.code == 0, first.err
    session = first.session_id
    assert session is not None
    sent = len(upstream.model_requests())

    refused = kaiwa("--input", "go on", "-c", "--json", **cap)
    assert refused.code != 0
    error = last_json(refused.out)
    assert error["type"] == "error" and error["kind"] == "budget"
    period = setting.rsplit("_", 1)[1].lower()
    assert f"your {period} cap" in error["message"] and setting in error["message"]
    assert "$0.108" in error["message"] or "$0.11" in error["message"]  # what was spent
    assert setting in error["hint"]
    assert len(upstream.model_requests()) == sent  # nothing reached the cloud
    assert stored_turns(kaiwa, session) == 1  # the session as it was

    plain = kaiwa("--input", "go on", "-c", **cap)
    assert plain.code != 0
    assert "nothing was sent" in plain.err and "go on" in plain.err  # the message printed back
    assert len(upstream.model_requests()) == sent

    if setting == "KAIWA_MAX_COST_SESSION":  # a new session starts from nothing spent
        fresh = kaiwa("--input", "a new topic", **cap)
        assert fresh.code == 0, fresh.err
        assert fresh.session_id != session
    else:  # a larger cap lets the same turn through
        passed = kaiwa("--input", "go on", "-c", **{setting: "0.5"})
        assert passed.code == 0, passed.err
        assert stored_turns(kaiwa, session) == 2


def test_the_80_percent_warning_comes_once_per_cap_and_period(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    cap = {"KAIWA_MAX_COST_DAY": "0.13"}  # $0.108 is 83% of it
    upstream.script(BIG)
    first = kaiwa("--input", "start", **cap)
    assert first.code == 0, first.err
    assert "83% of your day cap used" in first.err and "KAIWA_MAX_COST_DAY" in first.err
    second = kaiwa("--input", "small", **cap)  # a new session: its input is small, so it fits
    assert second.code == 0, second.err
    assert "of your day cap used" not in second.err
    without = kaiwa("--input", "small again")  # no cap: nothing to warn about
    assert "cap" not in without.err


def test_a_role_sets_a_session_cap(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    roles = kaiwa.home / ".config" / "kaiwa" / "roles"
    roles.mkdir(parents=True)
    (roles / "frugal.md").write_text("---\nmax_cost_session: 0.15\n---\nBe brief.\n")
    upstream.script(BIG)
    assert kaiwa("-r", "frugal", "--input", "start").code == 0
    refused = kaiwa("-c", "--input", "go on", "--json")
    assert refused.code != 0
    error = last_json(refused.out)
    assert error["kind"] == "budget" and "frugal" in error["message"]


def test_usage_adds_up_the_stored_costs(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(BIG, Reply(text="short", input_tokens=1_000, output_tokens=100))
    first = kaiwa("--input", "one")
    second = kaiwa("--input", "two", "--model", "fake-b")
    assert first.code == 0 and second.code == 0, first.err + second.err
    costs = {}
    for run in (first, second):
        shown = json.loads(kaiwa("sessions", "show", str(run.session_id), "--json").out)
        costs[shown["turn_usage"][0]["model"]] = shown["turn_usage"][0]["cost"]
    report = usage(kaiwa, KAIWA_MAX_COST_DAY="1", KAIWA_MAX_COST_MONTH="10")
    assert report["today"]["turns"] == 2 and report["month"]["turns"] == 2
    assert report["today"]["cost"] == pytest.approx(sum(costs.values()))
    assert report["today"]["cost"] == pytest.approx(FIRST_COST + 1_000 * FAKE_INPUT_PRICE + 100 * FAKE_OUTPUT_PRICE)
    assert [(m["model"], m["turns"]) for m in report["by_model"]] == [("fake-a", 1), ("fake-b", 1)]
    assert report["by_model"][0]["cost"] == pytest.approx(costs["fake-a"])
    day = report["caps"]["day"]
    assert day["limit"] == 1 and day["left"] == pytest.approx(1 - sum(costs.values()))
    assert report["caps"]["session"] is None
    text = kaiwa("usage", KAIWA_MAX_COST_DAY="1")
    assert text.code == 0 and "today" in text.out and "KAIWA_MAX_COST_DAY" in text.out and "fake-b" in text.out


def test_usage_in_the_repl(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(BIG)
    term = Term(kaiwa, KAIWA_MAX_COST_DAY="2")
    try:
        term.ready()
        term.turn("hello")
        term.enter("/usage")
        seen = term.wait_for("used; KAIWA_MAX_COST_DAY)")
        assert "today" in seen and "$0.108" in seen and "KAIWA_MAX_COST_DAY" in seen
        assert "$1.892 left" in seen  # 2 − 0.108
    finally:
        term.close()


@pytest.fixture
def key_front(proxy: object) -> Iterator[KeyBudgets]:
    front = KeyBudgets(proxy.base_url.removesuffix("/v1"), proxy.master_key).start()  # type: ignore[attr-defined]
    yield front
    front.stop()


def test_the_proxy_keys_budget_is_shown_and_its_refusal_is_one_line(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, key_front: KeyBudgets, tmp_path: Path
) -> None:
    key = "sk-member-0123456789abcdef"
    key_front.keys[key] = VirtualKey(spend=1.25, max_budget=2.0)
    env = {"LITELLM_BASE_URL": f"{key_front.url}/v1", "LITELLM_API_KEY": key}
    assert kaiwa("--input", "hello", **env).code == 0  # passed through to the real proxy
    report = usage(kaiwa, **env)
    assert report["proxy_key"] == {"spend": 1.25, "max_budget": 2.0, "budget_reset_at": None}
    assert "the proxy's count for your key: $1.25 of its $2 budget" in kaiwa("usage", **env).out

    key_front.keys[key].spend = 2.5
    sent = len(upstream.model_requests())
    refused = kaiwa("--input", "more", "--json", **env)
    assert refused.code != 0
    error = last_json(refused.out)
    assert error["kind"] == "budget"
    assert error["message"] == "the proxy refused the turn: your key's budget is spent: $2.50 spent of its $2.00"
    assert len(upstream.model_requests()) == sent
    plain = kaiwa("--input", "more", **env)
    lines = [line for line in plain.err.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "Traceback" not in plain.err and key not in plain.err


def test_on_a_shared_store_usage_counts_only_your_own_turns(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, key_front: KeyBudgets, pg_url: str
) -> None:
    alice, bob = "sk-alice-0123456789abcdef", "sk-bob-0123456789abcdef0"
    key_front.keys[alice] = VirtualKey()
    key_front.keys[bob] = VirtualKey()
    base = {"LITELLM_BASE_URL": f"{key_front.url}/v1", "SESSION_DB_URL": pg_url}
    upstream.script(BIG, Reply(text="short", input_tokens=1_000, output_tokens=100))
    assert kaiwa("--input", "alice's", LITELLM_API_KEY=alice, **base).code == 0
    assert kaiwa("--input", "bob's", LITELLM_API_KEY=bob, **base).code == 0
    mine = usage(kaiwa, LITELLM_API_KEY=alice, **base)
    theirs = usage(kaiwa, LITELLM_API_KEY=bob, **base)
    assert mine["today"]["cost"] == pytest.approx(FIRST_COST) and mine["today"]["turns"] == 1
    assert theirs["today"]["cost"] == pytest.approx(1_000 * FAKE_INPUT_PRICE + 100 * FAKE_OUTPUT_PRICE)
    assert mine["scope"].startswith("your own")
    # Bob's cap is his own: Alice's $0.108 does not count against it.
    assert kaiwa("--input", "bob again", LITELLM_API_KEY=bob, KAIWA_MAX_COST_DAY="0.05", **base).code == 0


def test_a_retried_answer_still_counts_toward_the_caps(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    """/retry replaces the last answer, not what it cost: both attempts were paid for, so both count (else
    retrying would spend without limit under any cap)."""
    upstream.script(BIG, BIG)
    term = Term(kaiwa)
    try:
        term.ready()
        term.turn("hello")
        term.enter("/retry")
        term.wait_for(re.compile(re.escape(" in · ") + r"(.|\n)*›"))
    finally:
        term.close()
    assert len(upstream.model_requests()) == 2
    report = usage(kaiwa, KAIWA_MAX_COST_DAY="1")
    assert report["today"]["cost"] == pytest.approx(2 * FIRST_COST)


def test_a_compaction_that_would_pass_a_cap_is_refused_before_it_is_sent(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    """A compaction sends the whole conversation: it answers to the day and month caps as a turn does (not the
    session cap: starting a new session is what it is for)."""
    upstream.script(BIG, Reply(text="The summary.", input_tokens=300, output_tokens=40))
    first = kaiwa("--input", "start")
    assert first.code == 0 and first.session_id, first.err
    sent = len(upstream.model_requests())

    refused = kaiwa("sessions", "compact", first.session_id, KAIWA_MAX_COST_DAY="0.15")
    assert refused.code != 0
    assert "your day cap (KAIWA_MAX_COST_DAY=$0.15)" in refused.err and "nothing was sent" in refused.err
    assert "Traceback" not in refused.err
    assert len(upstream.model_requests()) == sent  # nothing reached the cloud

    passed = kaiwa("sessions", "compact", first.session_id, KAIWA_MAX_COST_DAY="1", KAIWA_MAX_COST_SESSION="0.15")
    assert passed.code == 0, passed.err


def test_a_spent_cap_refuses_a_model_the_proxy_has_no_price_for(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    """An unpriced model (the shipped `local` alias) is never refused on a guess of its cost, but a cap already
    spent is not a guess: switching models must not get past it."""
    upstream.script(BIG)
    assert kaiwa("--input", "start").code == 0
    refused = kaiwa("--input", "more", "-m", "local", "--json", KAIWA_MAX_COST_DAY="0.1")
    assert refused.code != 0
    error = last_json(refused.out)
    assert error["kind"] == "budget" and "your day cap (KAIWA_MAX_COST_DAY=$0.1)" in error["message"], error
    assert "KAIWA_MAX_COST_DAY" in error["hint"]


def test_a_nan_anywhere_refuses_rather_than_passes() -> None:
    """What was spent or what a turn costs, if it is NaN (a bad imported cost, a bad price), never slips past a cap:
    `spent + cost > cap` is False for NaN, so the check is written the other way round."""
    from kaiwa.core import budget

    caps = budget.Caps(day=1.0)
    assert budget.refusal(caps, budget.Spent(day=float("nan")), 0.1) is not None
    assert budget.refusal(caps, budget.Spent(day=0.5), float("nan")) is not None
    assert budget.refusal(caps, budget.Spent(day=0.5), 0.1) is None
