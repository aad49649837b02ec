"""Roles in the interactive mode: `-r NAME` when it starts and `/role`, in a real pseudo-terminal (pexpect), through
the REAL LiteLLM proxy to the stand-in that records what the upstream received."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Kaiwa
from tests.harness.bodies import system_text
from tests.harness.term import Term, session_id_in
from tests.roles.helpers import project_roles, user_roles, write_role
from tests.standins.openai_compat import OpenAIChatStandIn

TERSE = "You answer in five words at most."


@pytest.fixture
def roles(kaiwa: Kaiwa) -> Kaiwa:
    write_role(project_roles(kaiwa.home), "terse", TERSE + "\n", "model: fake-b\ntemperature: 0.3\n")
    write_role(user_roles(kaiwa.home / ".config"), "pirate", "Talk like a pirate.\n", "tools: false\n")
    write_role(project_roles(kaiwa.home), "ghost", "x\n", "model: no-such-alias\n")
    return kaiwa


@pytest.fixture
def term(roles: Kaiwa) -> Iterator[Term]:
    t = Term(roles)
    yield t
    t.close()


def sent(upstream: OpenAIChatStandIn) -> list[tuple[str, str, object, bool]]:
    """(model, system prompt, temperature, has tools) of each request the upstream received."""
    return [
        (r.body["model"], system_text(r.body), r.body.get("temperature"), bool(r.body.get("tools")))
        for r in upstream.model_requests()
    ]


def test_role_switches_from_the_next_turn_on(term: Term, roles: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    term.ready()
    term.enter("/role")
    assert "no role · model fake-a" in term.after("no role")
    term.turn("plain")
    term.enter("/role terse")
    shown = term.after("from the next turn on")
    assert "role terse (project) · model fake-b · temperature 0.3 · from the next turn on" in shown
    assert "role terse" in term.turn("short")  # the toolbar names it
    term.enter("/role")
    assert "You answer in five words at most." in term.after("role terse (project)")
    term.enter("/role pirate")
    assert "role pirate (user) · model fake-a · no tools" in term.after("from the next turn on")
    term.turn("arr")
    term.enter("/role reviwe")
    assert "error: no role 'reviwe' — known roles: commit, ghost, pirate, review, terse" in term.after("known roles")
    term.enter("/role ghost")
    assert "error: the proxy has no model alias 'no-such-alias' — use one of: " in term.after("use one of")
    term.enter("/role off")
    assert "no role · model fake-a" in term.after("from the next turn on")
    term.turn("back")
    term.enter("/exit")
    assert term.exit_status() == 0
    default = sent(upstream)[0][1]
    assert default.startswith("You are kaiwa")
    assert sent(upstream) == [
        ("fake-a-upstream", default, None, True),
        ("fake-b-upstream", TERSE, 0.3, True),
        ("fake-a-upstream", "Talk like a pirate.", None, False),  # terse's temperature leaves with terse
        ("fake-a-upstream", default, None, True),  # the role's instructions leave with the role
    ]
    sid = session_id_in(term.text)
    assert sid is not None
    assert json.loads(roles("sessions", "show", sid, "--json").out)["role"] is None


def test_role_at_start_and_kept_on_resume(roles: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    first = Term(roles, "-r", "terse")
    try:
        first.ready()
        assert "kaiwa · fake-b · role terse · a new session" in first.text
        first.turn("one")
        first.enter("/exit")
        assert first.exit_status() == 0
        sid = session_id_in(first.text)
    finally:
        first.close()
    assert sid is not None
    again = Term(roles, "-s", sid, "--temperature", "1")  # the command line still wins over the kept role
    try:
        again.ready()
        assert "fake-b · role terse · a resumed session" in again.text
        again.turn("two")
        again.enter("/role pirate")  # stored at once, like /system
        again.after("from the next turn on")
        again.enter("/exit")
        assert again.exit_status() == 0
    finally:
        again.close()
    assert sent(upstream) == [("fake-b-upstream", TERSE, 0.3, True), ("fake-b-upstream", TERSE, 1, True)]
    data = json.loads(roles("sessions", "show", sid, "--json").out)
    assert (data["role"], data["instructions"]) == ("pirate", "Talk like a pirate.")
