"""Errors in the cloud's own words (issue 12): when a cloud refuses a turn, the one error line carries the
provider's own message — not LiteLLM's wrapping of it (`litellm.InternalServerError: …Exception - b'{…}'`,
`LiteLLM: model group … No fallback was attempted.`) — and says what to do.

chat.py as a subprocess → the REAL LiteLLM proxy → each cloud's stand-in answering with that cloud's own error
body (Bedrock `{"message": …}` + x-amzn-ErrorType, Anthropic `{"type":"error","error":{…}}`, Google
`{"error":{"code","message","status"}}`).
"""

from __future__ import annotations

import pytest

from tests.conftest import Kaiwa
from tests.standins.script import Reply
from tests.standins.server import StandIn

CLOUDS = {
    "bedrock-claude-3-5-sonnet": "bedrock",
    "azure-foundry-claude": "foundry",
    "vertex-gemini-2.0-flash": "vertex",
}
# What LiteLLM wraps a provider's error in; none of it may reach the user.
WRAPPING = ("litellm", "LiteLLM", "Exception -", "b'{", "model group", "No fallback", "Error: InternalServerError")
CASES = [
    # (status, the provider's message, what the line must say besides it)
    (500, "Internal failure in region eu-west-3 (request 7f3a); please retry", "failed upstream"),
    (503, "The model is overloaded right now (7f3b)", "failed upstream"),
    (400, "messages.1.content: text content blocks must be non-empty (7f3c)", "refused the request"),
    (429, "Too many tokens per minute for this deployment (7f3d)", "rate-limited"),
]


@pytest.mark.parametrize("alias", list(CLOUDS))
@pytest.mark.parametrize(("status", "message", "says"), CASES, ids=[str(c[0]) for c in CASES])
def test_the_error_line_quotes_the_cloud(
    alias: str, status: int, message: str, says: str, kaiwa: Kaiwa, request: pytest.FixtureRequest
) -> None:
    stand_in: StandIn = request.getfixturevalue(CLOUDS[alias])
    stand_in.script(*[Reply(status=status, error_message=message)] * 6)  # more than the proxy's retries
    run = kaiwa("--input", "hello", "--model", alias, KAIWA_MAX_RETRIES="0")
    assert run.code == 1, run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in run.err, run.err
    line = errors[0]
    assert message in line, line  # the provider's words, whole
    assert says in line and alias in line, line
    for wrapper in WRAPPING:
        assert wrapper not in line, f"{wrapper!r} in {line}"
    assert " — " in line  # and what to do, after the dash


# The wrappings seen from LiteLLM 1.106 (the first is the issue's own example), read without a proxy.
WRAPPED = [
    (
        "litellm.InternalServerError: InternalServerError: Azure_aiException - "
        'b\'{"error":{"message":"Upstream said \\\\"no\\\\"","type":"server_error"}}\' '
        "LiteLLM: model group 'azure-foundry-claude' failed with the error above. No fallback was attempted.",
        ("Azure AI Foundry", 'Upstream said "no"'),
    ),
    (
        'litellm.InternalServerError: BedrockException - {"message":"Internal failure"}. '
        "Received Model Group=bedrock-claude-3-5-sonnet\nAvailable Model Group Fallbacks=None",
        ("Bedrock", "Internal failure"),
    ),
    (
        "litellm.BadRequestError: Vertex_ai_betaException BadRequestError - "
        'b\'{"error": {"code": 400, "message": "Invalid arg", "status": "INVALID_ARGUMENT"}}\'',
        ("Vertex AI", "Invalid arg"),
    ),
    (
        "litellm.RateLimitError: RateLimitError: AnthropicException - "
        '{"type":"error","error":{"type":"rate_limit_error","message":"Too many requests"}}',
        ("Anthropic", "Too many requests"),
    ),
    ("Invalid model name passed in model=foo", (None, "Invalid model name passed in model=foo")),
]


@pytest.mark.parametrize(("text", "expected"), WRAPPED, ids=["foundry", "bedrock", "vertex", "anthropic", "proxy"])
def test_cloud_words_unwraps_litellm(text: str, expected: tuple[str | None, str]) -> None:
    from kaiwa.core.cloud_errors import cloud_words

    assert cloud_words(text) == expected
