"""`-r NAME` in one-shot, end to end: chat.py as a subprocess through the REAL LiteLLM proxy to the scripted
OpenAI-compatible stand-in, which records what the upstream received (model, system prompt, settings, tools).

The `kaiwa` fixture's HOME and working folder are the test's tmp_path, so user roles live in
tmp_path/.config/kaiwa/roles and project roles in tmp_path/.kaiwa/roles. LITELLM_MODEL is fake-a there."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Kaiwa
from tests.harness.asserts import one_line
from tests.harness.bodies import system_text
from tests.mcp_fixtures import stdio_server_config
from tests.roles.helpers import project_roles, user_roles, write_role
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.responses import ResponsesStandIn
from tests.standins.script import Reply

TERSE = "You answer in five words at most.\nNever use lists."


def sent(upstream: OpenAIChatStandIn) -> list[dict[str, Any]]:
    return [r.body for r in upstream.model_requests()]


def shown(kaiwa: Kaiwa, sid: str) -> dict[str, Any]:
    run = kaiwa("sessions", "show", sid, "--json")
    assert run.code == 0, run.err
    return json.loads(run.out)


def tool_names(body: dict[str, Any]) -> list[str]:
    return sorted(t["function"]["name"] for t in body.get("tools") or [])


def test_a_roles_instructions_model_and_settings_reach_the_upstream(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    write_role(
        project_roles(kaiwa.home), "terse", TERSE + "\n", "model: fake-b\ntemperature: 0.3\nmax_output_tokens: 40\n"
    )
    run = kaiwa("-r", "terse", "-i", "what is a monad?")
    assert run.code == 0, run.err
    [body] = sent(upstream)
    assert body["model"] == "fake-b-upstream"  # over LITELLM_MODEL=fake-a: the role wins over the settings
    assert system_text(body) == TERSE
    assert (body.get("temperature"), body.get("max_tokens")) == (0.3, 40)
    assert tool_names(body)  # the role leaves the tools on
    sid = run.session_id
    assert sid is not None
    assert shown(kaiwa, sid)["role"] == "terse" and shown(kaiwa, sid)["instructions"] == TERSE
    [listed] = json.loads(kaiwa("sessions", "list", "--json").out)
    assert listed["role"] == "terse" and listed["model"] == "fake-b"


def test_a_project_role_wins_over_the_users(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    write_role(user_roles(kaiwa.home / ".config"), "review", "The user's reviewer.\n", "model: fake-b\n")
    kaiwa("-r", "review", "-i", "one")
    write_role(project_roles(kaiwa.home), "review", "The project's reviewer.\n", "model: fake-a\n")
    kaiwa("-r", "review", "-i", "two")
    (project_roles(kaiwa.home) / "review.md").unlink()
    (user_roles(kaiwa.home / ".config") / "review.md").unlink()
    kaiwa("-r", "review", "-i", "three")  # kaiwa's own
    bodies = sent(upstream)
    assert [(b["model"], system_text(b)) for b in bodies[:2]] == [
        ("fake-b-upstream", "The user's reviewer."),
        ("fake-a-upstream", "The project's reviewer."),
    ]
    assert system_text(bodies[2]).startswith("Review the code or the diff you are given")


def test_the_command_line_wins_over_the_role(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    write_role(
        project_roles(kaiwa.home), "terse", TERSE + "\n", "model: fake-b\ntemperature: 0.3\nmax_output_tokens: 40\n"
    )
    run = kaiwa(
        "-r", "terse", "-m", "fake-a", "--system", "Be verbose.", "--temperature", "1", "-i", "hi"
    )  # fmt: skip
    assert run.code == 0, run.err
    [body] = sent(upstream)
    assert (body["model"], system_text(body), body.get("temperature")) == ("fake-a-upstream", "Be verbose.", 1)
    assert body.get("max_tokens") == 40  # what the command line did not say still comes from the role
    assert shown(kaiwa, run.session_id or "")["role"] == "terse"


def test_tools_false_and_an_mcp_subset(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    config = kaiwa.home / "mcp.json"
    servers = {"words": stdio_server_config(), "broken": stdio_server_config("--fail-on-start")}
    config.write_text(json.dumps({"mcpServers": servers}))
    folder = project_roles(kaiwa.home)
    write_role(folder, "quiet", "No tools here.\n", "tools: false\n")
    write_role(folder, "lexicon", "Look words up.\n", "mcp: [words]\n")
    write_role(folder, "typo", "x\n", "mcp: [wrods]\n")
    quiet = kaiwa("-r", "quiet", "-i", "hi", KAIWA_MCP_CONFIG=str(config))
    lexicon = kaiwa("-r", "lexicon", "-i", "hi", KAIWA_MCP_CONFIG=str(config))
    everything = kaiwa("-i", "hi", KAIWA_MCP_CONFIG=str(config))
    assert quiet.code == lexicon.code == everything.code == 0, (quiet.err, lexicon.err, everything.err)
    bodies = sent(upstream)
    assert tool_names(bodies[0]) == []
    assert "lookup_word" in tool_names(bodies[1]) and "calculate" in tool_names(bodies[1])
    assert "broken" not in lexicon.err  # the server the role leaves out is not even started
    assert "broken" in everything.err  # …while without the role it is, and fails to start (one warning)
    typo = kaiwa("-r", "typo", "-i", "hi", KAIWA_MCP_CONFIG=str(config))
    assert typo.code == 2
    assert one_line(typo) == (
        f"error: the role 'typo' names the MCP server 'wrods', which {config} does not have — configured servers:"
        " words, broken; fix mcp: in .kaiwa/roles/typo.md or the MCP config"
    )
    assert len(sent(upstream)) == 3  # nothing was sent


def test_a_resumed_session_keeps_its_role_unless_another_is_given(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    folder = project_roles(kaiwa.home)
    write_role(folder, "terse", TERSE + "\n", "model: fake-b\ntemperature: 0.3\n")
    write_role(folder, "pirate", "Talk like a pirate.\n", "max_output_tokens: 99\n")
    first = kaiwa("-r", "terse", "-i", "one")
    sid = first.session_id
    assert sid is not None, first.err
    kaiwa("-s", sid, "-i", "two")  # keeps terse: its model and settings, the session's instructions
    # another role: its instructions and settings; no model of its own, so the session's (issue 29, item 13)
    kaiwa("-s", sid, "-r", "pirate", "-i", "three")
    assert shown(kaiwa, sid)["role"] == "pirate"
    kaiwa("-c", "-i", "four")
    got = [(b["model"], system_text(b), b.get("temperature"), b.get("max_tokens")) for b in sent(upstream)]
    assert got == [
        ("fake-b-upstream", TERSE, 0.3, None),
        ("fake-b-upstream", TERSE, 0.3, None),
        ("fake-b-upstream", "Talk like a pirate.", None, 99),
        ("fake-b-upstream", "Talk like a pirate.", None, 99),
    ]
    data = shown(kaiwa, sid)
    assert (data["role"], data["instructions"], data["turns"]) == ("pirate", "Talk like a pirate.", 4)


def test_a_role_file_gone_since_is_said_once_and_the_session_goes_on(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    path = write_role(project_roles(kaiwa.home), "terse", TERSE + "\n", "model: fake-b\n")
    sid = kaiwa("-r", "terse", "-i", "one").session_id
    assert sid is not None
    path.unlink()
    again = kaiwa("-s", sid, "-i", "two")
    assert again.code == 0, again.err
    assert "this session's role 'terse' is no longer found; going on without it (-r NAME picks one)" in again.err
    last = sent(upstream)[-1]
    # its stored instructions stay, and the model it last used (issue 29, item 13)
    assert (last["model"], system_text(last)) == ("fake-b-upstream", TERSE)
    assert shown(kaiwa, sid)["role"] is None


def test_bad_input_is_one_line(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    folder = project_roles(kaiwa.home)
    write_role(folder, "hot", "x\n", "model: fake-a\n\nreasoning: extreme\n")
    write_role(folder, "ghost", "x\n", "model: no-such-alias\n")
    unknown = kaiwa("-r", "reviwe", "-i", "hi")
    assert unknown.code == 2
    assert one_line(unknown) == (
        "error: no role 'reviwe' — known roles: commit, ghost, hot, review (a new one is .kaiwa/roles/reviwe.md)"
    )
    bad = kaiwa("-r", "hot", "-i", "hi")
    assert bad.code == 2
    where = "error: role file .kaiwa/roles/hot.md, line 4: "
    assert one_line(bad) == where + "reasoning 'extreme' is not one of low, medium, high — e.g. low"
    assert upstream.model_requests() == []  # nothing reached the model, nothing was stored
    assert json.loads(kaiwa("sessions", "list", "--json").out) == []
    ghost, flag = kaiwa("-r", "ghost", "-i", "hi"), kaiwa("-m", "no-such-alias", "-i", "hi")
    assert ghost.code == flag.code == 1 and "Traceback" not in ghost.err
    assert ghost.err.startswith("error: the proxy has no model alias 'no-such-alias' — use --model with one of: ")
    assert ghost.err == flag.err  # the same line as --model gives (and the message printed back, not lost)


def test_a_roles_verbosity_reaches_a_model_that_takes_it(kaiwa: Kaiwa, native: ResponsesStandIn) -> None:
    write_role(project_roles(kaiwa.home), "brief", "Be brief.\n", "model: fake-native\nverbosity: low\n")
    native.script(Reply(text="Short."), Reply(text="Longer."))
    first = kaiwa("-r", "brief", "-i", "hi")
    assert first.code == 0, first.err
    again = kaiwa("-r", "brief", "--verbosity", "high", "-i", "hi")  # the flag wins
    assert again.code == 0, again.err
    bodies = [r.body for r in native.model_requests()]
    assert [(b["model"], b["text"]["verbosity"], b["instructions"]) for b in bodies] == [
        (bodies[0]["model"], "low", "Be brief."),
        (bodies[0]["model"], "high", "Be brief."),
    ]
    assert "not sent" not in first.err
