"""Naming a session: the full UUID, the short id `sessions list` shows (its last 8 characters), or any unique
fragment of at least 6 characters. `latest` is what `-c/--continue` picks.

Used everywhere an id is accepted (`--session-id`, every `sessions` subcommand, the REPL's `/resume`). A name that
matches nothing, or more than one session, is one line: a mistyped id never starts an empty conversation.
"""

from __future__ import annotations

from ..errors import KaiwaError, UsageError
from ..words import program
from .base import SessionInfo, Store
from .ids import canonical

MIN_FRAGMENT = 6
SHOWN_CANDIDATES = 5
MAX_COUNTED = 20


def _list_hint() -> str:
    return f"list them with `{program()} sessions` (or search with `{program()} sessions search WORD`)"


def _candidates(matches: list[SessionInfo], more: bool) -> str:
    shown = ", ".join(f"{s.short_id} ({s.title or 'untitled'!r})" for s in matches[:SHOWN_CANDIDATES])
    return shown + (", …" if more else "")


async def resolve(store: Store, ref: str) -> SessionInfo:
    """The one stored session `ref` names, or a UsageError line (unknown, ambiguous or too short: bad input, exit 2)."""
    raw = ref.strip().lower()
    if not raw:
        raise UsageError("the session id is empty", _list_hint())
    full = canonical(raw) if len(raw) >= 32 else None
    if full is not None:
        info = await store.get_session(full)
        if info is None:
            raise UsageError(f"no session {full} in {store.location}", f"check the id (or the store); {_list_hint()}")
        return info
    if len(raw) < MIN_FRAGMENT:
        raise UsageError(
            f"the session id {ref.strip()!r} is too short",
            f"give the short id (8 characters) or at least {MIN_FRAGMENT} characters of it; {_list_hint()}",
        )
    matches = await store.find_sessions(raw, limit=MAX_COUNTED + 1)
    if not matches:
        raise UsageError(f"no session matches {ref.strip()!r} in {store.location}", _list_hint())
    if len(matches) == 1:
        return matches[0]
    # The short id is a name of its own: a fragment that is exactly one session's short id names that one.
    exact = [s for s in matches if s.short_id == raw or s.session_id == raw]
    if len(exact) == 1:
        return exact[0]
    counted = f"more than {MAX_COUNTED}" if len(matches) > MAX_COUNTED else str(len(matches))
    raise UsageError(
        f"{ref.strip()!r} matches {counted} sessions: {_candidates(matches, len(matches) > SHOWN_CANDIDATES)}",
        "give more characters of the id",
    )


async def latest(store: Store) -> SessionInfo:
    """The most recently used session (`-c/--continue`), or a KaiwaError line when none is stored."""
    recent = await store.list_sessions(limit=1)
    if not recent:
        raise KaiwaError(
            f"there is no stored session to continue in {store.location}",
            'start one with --input "…" (or without -c)',
        )
    return recent[0]


async def pick(store: Store, ref: str | None, continue_latest: bool) -> SessionInfo | None:
    """The session `--session-id REF` or `-c` names; None when neither was given (a new session)."""
    if ref is not None and continue_latest:
        raise UsageError("--continue and --session-id name different sessions", "give only one of them")
    if continue_latest:
        return await latest(store)
    if ref is not None:
        return await resolve(store, ref)
    return None
