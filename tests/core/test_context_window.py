"""A conversation that no longer fits the model's context window: the proxy refuses the turn with LiteLLM's
ContextWindowExceededError (400); the user gets one line saying so and what to do, and the session is as it was.
Through the real proxy, from the OpenAI-compatible and the Anthropic (Azure AI Foundry) stand-ins."""

from __future__ import annotations

import pytest

from tests.conftest import Kaiwa
from tests.harness.asserts import assert_one_line_failure
from tests.harness.bodies import user_texts
from tests.harness.db import stored_items
from tests.standins.anthropic import AnthropicStandIn
from tests.standins.openai_compat import OpenAIChatStandIn, context_window_reply
from tests.standins.script import Reply


def test_context_window_failure_is_one_line_and_keeps_the_session(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="first answer"))
    sid = kaiwa("--input", "one").session_id
    assert sid
    before = stored_items(kaiwa.db, sid)
    upstream.script(context_window_reply())
    run = kaiwa("--input", "a long paste", "--session-id", sid)
    assert_one_line_failure(run, 1, "no longer fits the context window of 'fake-a'", "/compact", "/new", "--model")
    assert "a long paste" in run.err  # the text is given back
    assert stored_items(kaiwa.db, sid) == before
    upstream.script(Reply(text="fits now"))
    again = kaiwa("--input", "short", "--session-id", sid)
    assert again.code == 0 and again.out == "fits now\n"
    assert user_texts(upstream.model_requests()[-1].body) == ["one", "short"]


@pytest.mark.parametrize("message", ["prompt is too long: 208113 tokens > 200000 maximum"])
def test_context_window_from_anthropic(kaiwa: Kaiwa, foundry: AnthropicStandIn, message: str) -> None:
    foundry.script(Reply(status=400, error_message=message))
    run = kaiwa("--input", "hi", "--model", "azure-foundry-claude")
    assert_one_line_failure(run, 1, "no longer fits the context window of 'azure-foundry-claude'")
