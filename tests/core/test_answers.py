"""Structured answers and what scripts read, through the REAL proxy: `--schema` on each cloud (its own mechanism,
a valid and an invalid answer), `--json` for a plain turn, a tool turn, a reasoning turn and failures (every line
parsed with json.loads), and attachments arriving in each cloud's own format, still there after a resume."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kaiwa.core.schema import from_json_schema, load_schema, parse_short
from kaiwa.errors import KaiwaError, UsageError
from tests.conftest import Kaiwa, Run
from tests.harness.db import stored_items
from tests.harness.files import PDF, png
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

PERSON = {"name": "Ada", "age": 36, "tags": ["math", "engines"]}
SHORT = "name: str, age: int, tags: list[str]"
CLOUDS = ["bedrock-claude-3-5-sonnet", "azure-foundry-claude", "vertex-gemini-2.0-flash"]
FIXTURE = {
    "bedrock-claude-3-5-sonnet": "bedrock",
    "azure-foundry-claude": "foundry",
    "vertex-gemini-2.0-flash": "vertex",
}


def lines(run: Run) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in run.out.splitlines()]
    assert all(isinstance(p, dict) and "type" in p for p in parsed), run.out
    return parsed


def structured_reply(alias: str, value: Any) -> Reply:
    """How each cloud answers a structured request: Bedrock through the tool LiteLLM forces, the others as text."""
    if alias.startswith("bedrock"):
        return Reply(text="", tool_calls=[ToolCall("json_tool_call", value, id="tooluse_json_01")])
    return Reply(text=json.dumps(value), chunks=4)


def schema_mechanism(alias: str, body: dict[str, Any]) -> dict[str, Any]:
    """The schema as each cloud received it, in its own field."""
    if alias.startswith("bedrock"):
        [tool] = body["toolConfig"]["tools"]
        assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "json_tool_call"}}
        return dict(tool["toolSpec"]["inputSchema"]["json"])
    if alias.startswith("azure"):
        assert body["output_format"]["type"] == "json_schema"
        return dict(body["output_format"]["schema"])
    config = body.get("generationConfig") or body["generation_config"]
    assert config["response_mime_type"] == "application/json"
    return dict(config["response_json_schema"])


def model_bodies(stand_in: Any) -> list[dict[str, Any]]:
    return [r.body for r in stand_in.model_requests()]


# -- --schema ------------------------------------------------------------------------------------------------
def test_short_form_and_file_schemas(tmp_path: Path) -> None:
    assert parse_short("title: str, score: float?, tags: list[str], done: bool") == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "score": {"type": ["number", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "done": {"type": "boolean"},
        },
        "required": ["title", "score", "tags", "done"],
        "additionalProperties": False,
    }
    for bad, says in [
        ("name: strin", "unknown type 'strin'"),
        ("name: str, age", "cannot read 'age'"),
        ("a: int, a: int", "twice"),
    ]:
        with pytest.raises(UsageError, match=says):
            load_schema(bad)
    with pytest.raises(UsageError, match="no such file"):
        load_schema(str(tmp_path / "missing.json"))
    (tmp_path / "list.json").write_text('{"type": "array"}')
    with pytest.raises(UsageError, match="the top level must be an object schema"):
        load_schema(str(tmp_path / "list.json"))
    (tmp_path / "broken.json").write_text('{"type": "object", "properties": {"a": {"type": "nope"}}}')
    with pytest.raises(UsageError, match="not a valid JSON Schema"):
        load_schema(str(tmp_path / "broken.json"))
    # A file's optional field is still asked for in strict mode (all required), and validated as written.
    loose = {
        "title": "Person card",
        "type": "object",
        "properties": {"name": {"type": "string"}, "nick": {"type": "string"}},
        "required": ["name"],
    }
    spec = from_json_schema(loose)
    assert (spec.name, spec.strict, spec.wire["required"], spec.wire["additionalProperties"]) == (
        "Person_card",
        True,
        ["name", "nick"],
        False,
    )
    assert spec.check('{"name": "Ada"}', "sid") == {"name": "Ada"}
    assert spec.check('```json\n{"name": "Ada"}\n```', "sid") == {"name": "Ada"}  # a fenced answer is fine
    with pytest.raises(KaiwaError, match=r"does not follow the schema: 'name' is a required property"):
        spec.check("{}", "sid")
    with pytest.raises(KaiwaError, match=r"the answer is not JSON \(Expecting value at line 1 column 1\)"):
        spec.check("Sure! Here it is", "sid")


def test_a_schema_failure_shows_how_the_answer_begins() -> None:
    """Issue 32.9: the line says what came back, not only that it failed (the whole answer stays in the session)."""
    spec = from_json_schema({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    with pytest.raises(KaiwaError, match=r"; it begins: I'm sorry,\s+I cannot do that") as refused:
        spec.check("I'm sorry,\n I cannot do that " + "x" * 200, "sid")
    assert len(refused.value.message) < 200 and refused.value.message.endswith("…")
    with pytest.raises(KaiwaError, match=r'it begins: \{"n": "three"\}'):
        spec.check('{"n": "three"}', "sid")


@pytest.mark.parametrize("alias", CLOUDS)
def test_schema_on_each_cloud(alias: str, kaiwa: Kaiwa, request: pytest.FixtureRequest) -> None:
    stand_in = request.getfixturevalue(FIXTURE[alias])
    wrong = {"name": "Ada", "age": "thirty-six", "tags": []}
    stand_in.script(structured_reply(alias, PERSON), structured_reply(alias, wrong))
    run = kaiwa("--schema", SHORT, "-i", "Ada Lovelace, 36, math and engines", "--model", alias, "--no-tools")
    assert run.code == 0, run.err
    assert json.loads(run.out) == PERSON  # stdout: the checked JSON and nothing else
    assert run.session_id
    sent = schema_mechanism(alias, model_bodies(stand_in)[0])
    assert sent["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert sent["required"] == ["name", "age", "tags"]

    bad = kaiwa("--schema", SHORT, "-i", "Ada again", "--model", alias, "--no-tools")
    assert bad.code == 1 and bad.out == ""
    [error] = [line for line in bad.err.splitlines() if line.startswith("error:")]
    assert error.startswith("error: the answer does not follow the schema: 'thirty-six' is not of type 'integer'")
    assert bad.session_id and f"kept in session {bad.session_id}" in error
    assert "Traceback" not in bad.err and "not sent" not in bad.err
    stored = json.dumps(stored_items(kaiwa.db, bad.session_id))  # the raw answer is kept in the session
    assert "thirty-six" in stored
    assert stand_in.rejections == []


def test_schema_from_a_file_with_json_lines(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    (kaiwa.home / "card.json").write_text(json.dumps(schema))
    upstream.script(Reply(text='{"title": "Hello"}'), Reply(text='{"headline": "Hello"}'))
    run = kaiwa("--schema", "card.json", "--json", "-i", "a title please")
    assert run.code == 0, run.err
    events = lines(run)
    assert events[-1]["type"] == "done" and events[-1]["output"] == {"title": "Hello"}
    [body] = [r.body for r in upstream.model_requests()]
    assert body["response_format"]["json_schema"]["name"] == "final_output"  # the SDK's fixed name
    assert body["response_format"]["json_schema"]["strict"] is True
    bad = kaiwa("--schema", "card.json", "--json", "-i", "again")
    assert bad.code == 1
    assert lines(bad)[-1]["type"] == "error" and "'title' is a required property" in lines(bad)[-1]["message"]


def test_a_schema_answer_comes_before_its_usage_line(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    """On one screen (stdout and stderr together): the checked JSON, then the usage line, then SESSION_ID, as a
    plain answer is followed by them."""
    import subprocess

    upstream.script(Reply(text='{"title": "Hello"}', input_tokens=120, output_tokens=30))
    done = subprocess.run(
        kaiwa.command("--schema", "title: str", "-i", "a title please"), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=kaiwa.home, env=kaiwa.env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    shown = done.stdout
    answer, usage, session = shown.index('"title": "Hello"'), shown.index("fake-a · 120 in"), shown.index("SESSION_ID=")
    assert answer < usage < session, shown


# -- --json ----------------------------------------------------------------------------------------------------
def test_json_lines_for_a_plain_turn(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="Bonjour à vous !", chunks=4, input_tokens=120, output_tokens=30))
    run = kaiwa("--json", "-i", "Say hello in French")
    assert run.code == 0, run.err
    assert run.err == ""  # stderr stays quiet on success
    events = lines(run)
    session, *deltas, done = events
    assert session == {
        "type": "session",
        "session_id": done["session_id"],
        "model": "fake-a",
        "new": True,
        "schema_version": 1,
    }
    assert {e["type"] for e in deltas} == {"text"}
    assert "".join(e["delta"] for e in deltas) == "Bonjour à vous !" == done["text"]
    assert done["model"] == "fake-a"
    assert done["usage"]["input_tokens"] == 120 and done["usage"]["output_tokens"] == 30
    assert done["usage"]["reasoning_tokens"] == 0 and done["usage"]["cached_tokens"] == 0
    assert done["usage"]["cost"] == pytest.approx(120 * 2e-6 + 30 * 8e-6)
    again = lines(kaiwa("--json", "-i", "again", "-s", done["session_id"]))
    assert again[0]["new"] is False and again[0]["session_id"] == done["session_id"]


def test_json_lines_for_a_tool_turn(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "6*7"}, id="call_calc")]),
        Reply(text="6 × 7 = 42."),
    )
    run = kaiwa("--json", "-i", "6 times 7?")
    assert run.code == 0 and run.err == "", run.err
    events = lines(run)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session" and kinds[-1] == "done"
    call = next(e for e in events if e["type"] == "tool_call")
    result = next(e for e in events if e["type"] == "tool_result")
    assert call == {"type": "tool_call", "name": "calculate", "arguments": {"expression": "6*7"}}
    assert result["name"] == "calculate" and "42" in json.dumps(result["output"])
    assert kinds.index("tool_call") < kinds.index("tool_result") < kinds.index("text")
    assert events[-1]["text"] == "6 × 7 = 42."


def test_json_lines_for_a_reasoning_turn(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="42.", thinking="Six sevens are forty-two.", reasoning_tokens=12, output_tokens=20))
    run = kaiwa("--json", "-i", "6*7, think first", "--reasoning", "low")
    assert run.code == 0 and run.err == "", run.err
    events = lines(run)
    thought = "".join(e["delta"] for e in events if e["type"] == "reasoning")
    assert thought == "Six sevens are forty-two."
    kinds = [e["type"] for e in events]
    assert kinds.index("reasoning") < kinds.index("text")
    assert events[-1]["type"] == "done" and events[-1]["usage"]["reasoning_tokens"] == 12


def test_json_lines_for_failures_keep_the_exit_codes(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(status=500, error_message="upstream exploded")] * 8)
    plain = kaiwa("-i", "hi")
    upstream.reset()
    upstream.script(*[Reply(status=500, error_message="upstream exploded")] * 8)
    run = kaiwa("--json", "-i", "hi")
    assert run.code == plain.code == 1
    events = lines(run)
    assert [e["type"] for e in events] == ["session", "error"]
    assert "upstream" in events[-1]["message"] and events[-1]["hint"] and events[-1]["kind"] == "upstream"
    # The first turn of a new session failed: no session was stored, and the error line says so.
    assert events[0]["new"] and events[-1]["session_id"] is None
    assert kaiwa("sessions", "show", events[0]["session_id"]).code != 0
    usage = kaiwa("--json", "-i", "hi", "--reasoning", "extreme")
    assert usage.code == 2
    [error] = lines(usage)
    assert error == {
        "type": "error",
        "kind": "usage",
        "message": "--reasoning 'extreme' is not one of low, medium, high",
        "hint": "e.g. low",
        "session_id": None,
        "schema_version": 1,
    }
    missing = kaiwa("--json", "-a", "nope.png", "-i", "look")
    assert missing.code == 2 and lines(missing)[-1]["message"] == "cannot attach nope.png: no such file"
    assert lines(missing)[-1]["kind"] == "usage"


# -- attachments in each cloud's own format, and after a resume ------------------------------------------------
def _cloud_parts(alias: str, stand_in: Any, index: int = -1) -> list[dict[str, Any]]:
    """The parts of the FIRST user message of a request, in the cloud's own shape."""
    if alias.startswith("vertex"):
        return list(stand_in.calls[index].contents[0]["parts"])
    if alias.startswith("bedrock"):
        return list(stand_in.calls[index].messages[0]["content"])
    return list(model_bodies(stand_in)[index]["messages"][0]["content"])


def _check_cloud_format(alias: str, parts: list[dict[str, Any]], image: bytes, pdf: bytes) -> None:
    image64, pdf64 = base64.b64encode(image).decode(), base64.b64encode(pdf).decode()
    texts = [p.get("text", "") for p in parts if "text" in p]
    assert texts[0] == "what is wrong here?"
    assert texts[1] == '<document name="notes.txt">\nthe button is blue\n</document>'
    if alias.startswith("bedrock"):
        [img] = [p["image"] for p in parts if "image" in p]
        assert img == {"format": "png", "source": {"bytes": image64}}
        [doc] = [p["document"] for p in parts if "document" in p]
        assert doc["format"] == "pdf" and doc["source"] == {"bytes": pdf64}
    elif alias.startswith("azure"):
        [img] = [p for p in parts if p.get("type") == "image"]
        assert img["source"] == {"type": "base64", "media_type": "image/png", "data": image64}
        [doc] = [p for p in parts if p.get("type") == "document"]
        assert doc["source"] == {"type": "base64", "media_type": "application/pdf", "data": pdf64}
    else:
        inline = [p["inlineData"] for p in parts if "inlineData" in p]
        assert inline == [{"data": image64, "mime_type": "image/png"}, {"data": pdf64, "mime_type": "application/pdf"}]


@pytest.mark.parametrize("alias", CLOUDS)
def test_attachments_arrive_in_each_clouds_format_and_survive_a_resume(
    alias: str, kaiwa: Kaiwa, request: pytest.FixtureRequest
) -> None:
    stand_in = request.getfixturevalue(FIXTURE[alias])
    image = png()
    (kaiwa.home / "shot.png").write_bytes(image)
    (kaiwa.home / "notes.txt").write_text("the button is blue\n")
    (kaiwa.home / "spec.pdf").write_bytes(PDF)
    first = kaiwa("-a", "notes.txt", "-a", "shot.png", "-a", "spec.pdf", "-i", "what is wrong here?", "--model", alias)
    assert first.code == 0, first.err
    _check_cloud_format(alias, _cloud_parts(alias, stand_in), image, PDF)
    second = kaiwa("-i", "and the colour?", "-s", first.session_id or "", "--model", alias)
    assert second.code == 0, second.err
    _check_cloud_format(alias, _cloud_parts(alias, stand_in), image, PDF)  # replayed from the session
    assert stand_in.rejections == []
