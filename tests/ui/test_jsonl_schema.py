"""The published `--json` format: `chat.py schema` prints a JSON Schema (draft 2020-12) of every line, versioned,
and the lines of real runs follow it — a turn, a turn that fails, and a failure before any turn starts. (Every
other `--json` run of the suite is checked against it too: tests/harness/jsonl.py, called by the `kaiwa` runner.)"""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from kaiwa.errors import KINDS
from kaiwa.ui.jsonl_schema import SCHEMA_VERSION
from tests.conftest import Kaiwa
from tests.harness.jsonl import check_json_lines
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

LINE_TYPES = {"session", "text", "reasoning", "tool_call", "tool_result", "approval", "retry", "done", "error"}


def test_schema_command_prints_a_versioned_draft_2020_12_schema_of_every_line(kaiwa: Kaiwa) -> None:
    run = kaiwa("schema")
    assert run.code == 0, run.err
    schema = json.loads(run.out)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["x-schema-version"] == SCHEMA_VERSION == 1
    defs = schema["$defs"]
    types = {d["properties"]["type"]["const"] for d in defs.values() if "type" in d.get("properties", {})}
    assert types == LINE_TYPES
    assert set(defs["ErrorLine"]["properties"]["kind"]["enum"]) == set(KINDS)  # the closed list, published


def test_a_turn_with_a_tool_follows_the_schema(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall("calculate", {"expression": "6*7"}, id="call_calc")]), Reply(text="42")
    )
    run = kaiwa("--json", "-i", "6 times 7?")
    assert run.code == 0, run.err
    lines = check_json_lines(run.out)
    types = [line["type"] for line in lines]
    assert types[0] == "session" and types[-1] == "done" and {"tool_call", "tool_result", "text"} <= set(types)
    assert lines[0]["schema_version"] == SCHEMA_VERSION
    assert lines[-1]["text"] == "42" and "output" not in lines[-1]  # `output` only with --schema


def test_a_failure_before_the_turn_is_one_error_line(kaiwa: Kaiwa) -> None:
    run = kaiwa("--json", "-i", "hi", "-s", "0123456789abcdef")
    assert run.code != 0
    lines = check_json_lines(run.out)
    assert [line["type"] for line in lines] == ["error"]
    assert lines[0]["schema_version"] == SCHEMA_VERSION and lines[0]["session_id"] is None
    assert "no session" in lines[0]["message"] and run.err.count("error: ") == 1


def test_a_failed_turn_names_the_flag_on_the_command_line(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(status=500, error_message="upstream exploded")] * 8)
    run = kaiwa("--json", "-i", "hi", "--model", "fake-b")
    error = check_json_lines(run.out)[-1]
    assert error["kind"] == "upstream" and "--model" in error["hint"] and "$" not in error["hint"]
    assert run.code == 1


@pytest.mark.parametrize(
    "line",
    [
        {"type": "text"},  # a field missing
        {"type": "text", "delta": "a", "extra": 1},  # a field the format does not have
        {"type": "error", "kind": "oops", "message": "m", "hint": None, "session_id": None, "schema_version": 1},
        {"type": "session", "session_id": "s", "model": "m", "new": True, "schema_version": 2},
        {"type": "approval", "state": "maybe", "call_id": "c", "server": "", "tool": "t", "by": "you"},
    ],
)
def test_lines_off_the_schema_are_caught(line: dict[str, object]) -> None:
    with pytest.raises(AssertionError, match="does not follow the schema"):
        check_json_lines(json.dumps(line))
