"""Session ids: a new one is a UUIDv7 (ids sort by creation time); one a user gives is any UUID, canonicalised."""

from __future__ import annotations

import uuid

from ..errors import UsageError
from ..words import program


def new_session_id() -> str:
    """A new session id: a UUIDv7, so ids sort by creation time."""
    import uuid6  # deferred: only a new session needs it (uuid.uuid7 arrives in Python 3.14)

    return str(uuid6.uuid7())


def canonical(raw: str) -> str | None:
    """The canonical (lower-case, hyphenated) form of a UUID, or None if `raw` is not one."""
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        return None


def parse_session_id(raw: str) -> str:
    """The canonical form of a session id, or a usage error for anything that is not a UUID."""
    sid = canonical(raw)
    if sid is None:
        raise UsageError(
            f"--session-id {raw!r} is not a UUID",
            f"copy the id printed as SESSION_ID=… or list them with `{program()} sessions`",
        )
    return sid
