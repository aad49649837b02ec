"""A failure and its event, both ways, and the two failures every command can meet (a bug, an interrupt). Apart
from `failures.py` (which inspects the SDK's and openai's exceptions) so a face can use them without the SDK."""

from __future__ import annotations

from ..errors import KaiwaError
from ..redact import redact
from .cloud_errors import short
from .events import TurnFailed


def as_event(exc: KaiwaError, cause: BaseException | None = None, *, session_id: str | None = None) -> TurnFailed:
    """A failure as the event faces draw; `session_id`: the stored session it leaves, when the error does not say."""
    return TurnFailed(
        kind=exc.kind, message=exc.message, hint=exc.hint, exit_code=exc.exit_code, model=exc.model,
        setting=exc.setting, session_id=exc.session_id or session_id, sent=exc.sent, kept=exc.kept,
        cause=cause or exc,
    )  # fmt: skip


def as_error(failed: TurnFailed) -> KaiwaError:
    return KaiwaError(failed.message, failed.hint, failed.exit_code, failed.kind, model=failed.model,
                      setting=failed.setting, session_id=failed.session_id, sent=failed.sent,
                      kept=failed.kept)  # fmt: skip


def unexpected(exc: BaseException, *secrets: str | None) -> KaiwaError:
    """A bug, not the user's doing: still one line, masked (its traceback, through `__cause__`, with --debug)."""
    bug = KaiwaError(
        f"unexpected {type(exc).__name__}: {redact(short(str(exc)), *secrets)}",
        "run again with $debug and report it",
        kind="internal",
    )
    bug.__cause__ = exc
    return bug


TURN_INTERRUPTED = "nothing was saved for this turn; the session is as it was"


def interrupted(left: str = TURN_INTERRUPTED) -> KaiwaError:
    """Ctrl-C (or a signal) stopped it; `left`: what that leaves."""
    return KaiwaError("interrupted", left, 130, kind="interrupted")
