"""The one masking (kaiwa/redact.py): every URL kaiwa prints loses its credentials, nothing else changes."""

from __future__ import annotations

import pytest

from kaiwa.redact import mask_url, redact, redacted_traceback


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://user:secretpw@proxy.corp:4000/v1", "http://user:***@proxy.corp:4000/v1"),
        ("https://u:p@ss@host/v1", "https://u:***@host/v1"),  # an unescaped @ in the password
        ("https://ghp_TOKEN123@host/v1", "https://***@host/v1"),  # a lone HTTP user is a token
        ("postgresql://kaiwa@db/kaiwa", "postgresql://kaiwa@db/kaiwa"),  # a Postgres user is a name
        ("http://host/v1?api_key=abc123&mode=x", "http://host/v1?api_key=***&mode=x"),
        ("http://localhost:4000/v1", "http://localhost:4000/v1"),
        ("http://[::1", "http://[::1"),  # malformed, no credentials: as written
        ("http://u:pw@[::1", "http://u:***@[::1"),  # malformed with credentials: still masked
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_redact_masks_every_url_in_a_text_and_the_named_secrets() -> None:
    text = "the proxy at http://user:secretpw@h/v1 rejected key sk-live-abcdef (also tried https://x:y@z/)."
    out = redact(text, "hunter22")
    assert "secretpw" not in out and "abcdef" not in out and ":y@" not in out
    assert out == "the proxy at http://user:***@h/v1 rejected key *** (also tried https://x:***@z/)."
    assert redact("password hunter22 here", "hunter22") == "password *** here"
    assert redact("nothing secret at http://127.0.0.1:4000/v1.") == "nothing secret at http://127.0.0.1:4000/v1."


def test_the_debug_traceback_is_masked_too() -> None:
    try:
        try:
            raise ConnectionError("connect to http://me:secretpw@10.0.0.1/v1 failed")
        except ConnectionError as inner:
            raise RuntimeError("turn failed") from inner
    except RuntimeError as outer:
        text = redacted_traceback(outer)
    assert "secretpw" not in text and "http://me:***@10.0.0.1/v1" in text and "Traceback" in text
