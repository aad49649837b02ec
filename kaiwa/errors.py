"""Failures a user can cause, as one line each: what went wrong and what to do."""

from __future__ import annotations


class KaiwaError(Exception):
    """An error shown to the user as one line (no traceback unless --debug)."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def line(self) -> str:
        return f"error: {self.message}" + (f" — {self.hint}" if self.hint else "")


class UsageError(KaiwaError):
    """Bad input on the command line or in the settings (exit code 2, like click's usage errors)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, exit_code=2)
