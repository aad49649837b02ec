"""The REPL's session commands: /sessions, /resume, /fork, /compact (registered on import by repl_commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import KaiwaError
from ..store.base import SessionInfo
from .repl_commands import command

if TYPE_CHECKING:
    from .repl import Repl


def session_line(s: SessionInfo, current: bool) -> str:
    """As `chat.py sessions list` shows a session: short id, last used, model, turns, tokens, cost, title."""
    from .transcript import money, relative_time

    title = " ".join(s.title.split())
    return (
        f"{'*' if current else ' '} {s.short_id}  {relative_time(s.updated_at):>12}  {s.model}  {s.turns} turns"
        f"  {s.input_tokens + s.output_tokens:,} tok  {money(s.cost):>8}  {title}"
    )


@command("sessions", "/sessions", "recent sessions (resume one with /resume)")
async def _sessions(repl: Repl, arg: str) -> None:
    await repl.refresh_recent()
    if not repl.recent:
        repl.say("no stored sessions yet")
    for s in repl.recent[:20]:
        repl.say(session_line(s, s.session_id == repl.session_id), "bold" if s.session_id == repl.session_id else "")


@command("resume", "/resume <id or fragment>", "continue a stored session")
async def _resume(repl: Repl, arg: str) -> None:
    from .repl_store import resolve_session

    if not arg:
        raise KaiwaError("/resume needs a session", "give its short id (see /sessions; Tab completes)")
    info = await resolve_session(repl.store, arg)
    await repl.open_session(info)
    repl.describe(info)


@command("fork", "/fork", "continue in a copy of this conversation (the original stays as it is)")
async def _fork(repl: Repl, arg: str) -> None:
    from .repl_store import fork_session

    if repl.info is None:
        raise KaiwaError("nothing to fork yet", "send a message first")
    original = repl.info.short_id
    info = await fork_session(repl.store, repl.info)
    await repl.open_session(info)
    await repl.refresh_recent()
    repl.say(f"forked: now in {info.short_id}, a copy of {original} (which stays as it was)")


@command("compact", "/compact", "continue in a new session that starts from a summary of this one")
async def _compact(repl: Repl, arg: str) -> None:
    from .compact import compact_session
    from .repl_store import stored_copy

    if repl.info is None:
        raise KaiwaError("nothing to compact yet", "send a message first")
    original = repl.info.short_id
    repl.say(f"summarising {original} with {repl.model}… (Ctrl-C stops)")
    compacted = await repl.foreground(
        compact_session(
            repl.store,
            repl.info,
            model=repl.model,
            base_url=repl.endpoint.base_url,
            api_key=repl.endpoint.api_key,
            timeout=repl.settings.timeout,
            max_retries=repl.settings.max_retries,
            notice=repl.say,
        )
    )
    if compacted is None:
        return
    info = await stored_copy(repl.store, compacted.dump.info.session_id)
    await repl.open_session(info)
    await repl.refresh_recent()
    left_out = f"; the {compacted.left_out_turns} oldest turns did not fit" if compacted.left_out_turns else ""
    repl.say(f"compacted: now in {info.short_id}, which starts from a summary of {original}{left_out}")
