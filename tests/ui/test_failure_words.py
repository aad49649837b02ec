"""A failure is data (`TurnFailed`: a kind from a closed list, the model, the setting, the options its hint names);
each face says it in its own words: the command line names flags, the REPL its commands — nothing rewrites another
face's text."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from kaiwa.core.events import TurnFailed
from kaiwa.errors import FLAGS, KINDS, FailureKind, KaiwaError
from kaiwa.ui.repl.state import REPL_NAMES


def test_a_hint_names_options_in_each_face_s_words() -> None:
    failed = TurnFailed(
        "context_window", "the conversation no longer fits", "start one without $session_id, or pick ($model)",
        model="fake-a",
    )  # fmt: skip
    assert failed.line() == (
        "error: the conversation no longer fits — start one without --session-id, or pick (--model)"
    )
    assert failed.line(REPL_NAMES).endswith("start one without --session-id, or pick (/model)")
    assert failed.model == "fake-a"


def test_words_that_merely_contain_a_dollar_are_left_alone() -> None:
    error = KaiwaError("over budget", "spent $0.12 of $1.00; see $HOME/.env.app or $$")
    assert error.line(FLAGS) == "error: over budget — spent $0.12 of $1.00; see $HOME/.env.app or $$"


def test_the_kind_is_closed_and_fixed_once_made() -> None:
    assert set(typing.get_args(FailureKind)) == set(KINDS) and "failed" in KINDS
    failed = TurnFailed("store", "m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        failed.kind = "auth"  # type: ignore[misc]
    error = KaiwaError("m", kind="store")
    again = error.as_kind("not_litellm")
    assert (error.kind, again.kind, again.message) == ("store", "not_litellm", "m")
