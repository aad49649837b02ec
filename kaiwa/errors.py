"""Failures a user can cause, as one line each: what went wrong and what to do.

Each carries a `kind` from the closed list `FailureKind`, so faces and scripts (`--json`'s `error.kind`) tell
failures apart without parsing the words. A hint names the options it involves as `$model`, `$reasoning`, …
(`Option`): each face spells them its own way (`--model` on the command line, `/model` in the REPL), so no face
rewrites another's words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, get_args

# The closed list of failures (`--json`'s `error.kind`). Add one here, say what it means below, and give it a
# case where it is raised; `tests/ui/test_jsonl_schema.py` checks the published schema lists every one.
FailureKind = Literal[
    "usage",  # a flag, setting, file or message kaiwa cannot use (exit 2)
    "store",  # the session store refused or failed
    "gateway",  # the local gateway could not be started
    "unreachable",  # the proxy could not be reached
    "not_litellm",  # a server answers at LITELLM_BASE_URL, but it is not a LiteLLM proxy
    "timeout",  # the proxy did not answer in time
    "auth",  # the proxy rejected the API key
    "unknown_model",  # the proxy has no such model alias
    "context_window",  # the conversation no longer fits the model
    "rate_limited",  # the cloud kept answering 429
    "budget",  # a spending cap (KAIWA_MAX_COST_*, a role's, or the proxy key's own budget) stops the turn unsent
    "upstream",  # the cloud failed (5xx) even after retries
    "refused",  # the cloud or the proxy refused the request (4xx)
    "stream",  # the answer broke off mid-stream
    "tool_loop",  # the agent kept calling tools without answering
    "bad_answer",  # the answer does not follow --schema (the turn IS stored)
    "interrupted",  # Ctrl-C or a signal stopped the turn
    "internal",  # a bug in kaiwa (details with --debug)
    "failed",  # any other one-line failure
]
KINDS: tuple[FailureKind, ...] = get_args(FailureKind)

# The options a hint may name, as `$name` in its text.
Option = Literal["model", "reasoning", "system", "attach", "session_id", "no_tools", "debug"]
FLAGS: Mapping[str, str] = {
    "model": "--model",
    "reasoning": "--reasoning",
    "system": "--system",
    "attach": "--attach",
    "session_id": "--session-id",
    "no_tools": "--no-tools",
    "debug": "--debug",
}


_OPTION = re.compile(r"\$([a-z_]+)\b")


def spelled(hint: str, names: Mapping[str, str] = FLAGS) -> str:
    """A hint with its `$option`s in a face's words (the command line's flags unless `names` says otherwise); any
    other `$` (a price, `$HOME`) stays as written."""
    if "$" not in hint:
        return hint
    return _OPTION.sub(lambda match: names.get(match.group(1), match.group(0)), hint)


def one_line(message: str, hint: str = "") -> str:
    """How every failure reads: `error: what went wrong — what to do`."""
    return f"error: {message}" + (f" — {hint}" if hint else "")


class KaiwaError(Exception):
    """An error shown to the user as one line (no traceback unless --debug). `model` and `setting`: what it is
    about, for faces that say it their own way (the words already name them)."""

    default_kind: FailureKind = "failed"

    def __init__(
        self,
        message: str,
        hint: str = "",
        exit_code: int = 1,
        kind: FailureKind | None = None,
        *,
        model: str | None = None,
        setting: str | None = None,
        session_id: str | None = None,
        sent: bool = False,
        kept: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint  # with `$option`s: see `spelled`
        self.exit_code = exit_code
        self.kind: FailureKind = kind or self.default_kind
        self.model = model
        self.setting = setting
        # The stored session the failure leaves (None: no session exists, e.g. a new one whose first turn failed).
        self.session_id = session_id
        # The message reached the proxy (a turn that failed after sending it: never "not sent"), and the tools that
        # ran before the failure, kept with the session (the message is stored with them).
        self.sent = sent
        self.kept = kept

    def line(self, names: Mapping[str, str] = FLAGS) -> str:
        return one_line(self.message, spelled(self.hint, names))

    def as_kind(self, kind: FailureKind) -> KaiwaError:
        """The same failure under another kind (a new error: a failure is never changed once made)."""
        again = KaiwaError(self.message, self.hint, self.exit_code, kind, model=self.model, setting=self.setting,
                           session_id=self.session_id, sent=self.sent, kept=self.kept)  # fmt: skip
        again.__cause__ = self.__cause__ or self
        return again


class UsageError(KaiwaError):
    """Bad input on the command line or in the settings (exit code 2, like click's usage errors)."""

    default_kind = "usage"

    def __init__(self, message: str, hint: str = "", *, setting: str | None = None) -> None:
        super().__init__(message, hint, exit_code=2, setting=setting)


class StoreError(KaiwaError):
    """The session store refused or failed (a damaged, foreign, newer or read-only store; a lock not given)."""

    default_kind = "store"
