"""Failures a user can cause, as one line each: what went wrong and what to do.

Each carries a `kind` from the fixed list in `kaiwa/core/failures.py` (`KINDS`), so faces and scripts (`--json`'s
`error.kind`) can tell failures apart without parsing the words.
"""

from __future__ import annotations


def one_line(message: str, hint: str = "") -> str:
    """How every failure reads: `error: what went wrong — what to do`."""
    return f"error: {message}" + (f" — {hint}" if hint else "")


class KaiwaError(Exception):
    """An error shown to the user as one line (no traceback unless --debug)."""

    default_kind = "failed"
    # The stored session the failure leaves (None: no session exists, e.g. a new one whose first turn failed).
    session_id: str | None = None
    # The model answered (and was paid) before this failed: the message was sent, so no face may say it was not.
    answered: bool = False

    def __init__(self, message: str, hint: str = "", exit_code: int = 1, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
        self.kind = kind or self.default_kind

    def line(self) -> str:
        return one_line(self.message, self.hint)


class UsageError(KaiwaError):
    """Bad input on the command line or in the settings (exit code 2, like click's usage errors)."""

    default_kind = "usage"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, exit_code=2)


class StoreError(KaiwaError):
    """The session store refused or failed (a damaged, foreign, newer or read-only store; a lock not given)."""

    default_kind = "store"
