"""Built-in tools called with unknown, missing or mistyped arguments (issue 21, item 2): the model gets an
error it can correct and the tool does not run with its defaults. End to end through the real proxy."""

from __future__ import annotations

from typing import Any

import pytest

from kaiwa.tools import builtin_tools
from tests.conftest import Kaiwa
from tests.harness.bodies import tool_messages
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall

CASES = [
    ("current_time", {"timezone": "Asia/Tokyo"}, "current_time has no argument 'timezone'"),
    ("current_time", {}, "missing argument 'zone'"),
    ("current_time", {"zone": 9}, "zone must be string or null"),
    ("calculate", {}, "missing argument 'expression'"),
    ("calculate", {"expression": "1+1", "precision": 3}, "calculate has no argument 'precision'"),
    ("calculate", {"expression": ["1"]}, "expression must be string"),
]


def test_every_builtin_tool_is_covered() -> None:
    assert {name for name, _, _ in CASES} == {tool.name for tool in builtin_tools()}


@pytest.mark.parametrize(("name", "arguments", "said"), CASES)
def test_bad_arguments_come_back_to_the_model_as_an_error(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, name: str, arguments: dict[str, Any], said: str
) -> None:
    upstream.script(
        Reply(text="", tool_calls=[ToolCall(name, arguments, "call_bad")]),
        Reply(text="Let me try again."),
    )
    run = kaiwa("--input", "what time is it in Tokyo, and what is 1+1?")
    assert run.code == 0, run.err
    result = tool_messages(upstream.model_requests()[1].body)["call_bad"]
    assert result.startswith("error: ") and said in result, result
    assert "call it as " + name + "(" in result  # what the tool does take, to retry with
    assert "UTC" not in result and result.count("2") == 0  # the tool did not run with its defaults
    assert "Traceback" not in run.err
