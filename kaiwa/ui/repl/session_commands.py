"""The REPL's conversation commands: /new /sessions /resume /fork /compact /retry /undo. Each parses its words,
calls the `Conversation`, and prints."""

from __future__ import annotations

from ...core.history import item_text
from ...errors import KaiwaError
from ...store.base import SessionInfo
from ..format import money, plural, relative_time, tokens
from .registry import command, first_line
from .state import Repl, as_typed


def session_line(s: SessionInfo, current: bool) -> str:
    """As `chat.py sessions list` shows a session: short id, last used, model, turns, tokens, cost, title."""
    title = " ".join(s.title.split())
    mark, when = "*" if current else " ", relative_time(s.updated_at)
    return (
        f"{mark} {s.short_id}  {when:>12}  {s.model}  {plural(s.turns, 'turn')}"
        f"  {tokens(s.input_tokens + s.output_tokens)} tok  {money(s.cost):>9}  {title}"
    )


@command("new", "/new", "start a fresh session")
async def _new(repl: Repl, arg: str) -> None:
    repl.conversation.new()
    await repl.refresh_recent()
    repl.say("a new session: your next message starts it")


@command("retry", "/retry", "send the last message again, replacing its answer")
async def _retry(repl: Repl, arg: str) -> None:
    original = await repl.conversation.summary_source()
    if original is not None:  # right after /compact: the summary again, from the whole original conversation
        from ..transcript import summariser_text

        repl.say(f"summarising {original.short_id} again with {repl.model}… (Ctrl-C stops)")
        done = await repl.foreground(repl.conversation.resummarise(original, summariser_text, repl.say))
        if done is None:
            repl.say("interrupted: the summary is as it was", "yellow")
            return
        await repl.refresh_recent()
        repl.say(f"a new summary of {original.short_id} replaces the old one in {repl.conversation.session_id[-8:]}")
        return
    _, message = await repl.conversation.last_exchange()
    text = item_text(message)
    repl.say(f"retrying: {first_line(text)}")
    await repl.run_turn(text, repl.conversation.retry)


@command("undo", "/undo", "remove the last exchange from the session")
async def _undo(repl: Repl, arg: str) -> None:
    from ...core.inputs import split_message

    text, attachments = split_message(await repl.conversation.undo())
    again = f" (attached again: {', '.join(a.name for a in attachments)})" if attachments else ""
    repl.say(f"removed the last exchange: “{first_line(text)}”{again}")
    repl.pending = as_typed(text)  # back on the input line, to edit or drop with Ctrl-C
    repl.attachments = [*attachments, *repl.attachments]  # with its files, as it was sent


@command("sessions", "/sessions", "recent sessions (resume one with /resume)")
async def _sessions(repl: Repl, arg: str) -> None:
    await repl.refresh_recent()
    if not repl.recent:
        repl.say("no stored sessions yet")
    for s in repl.recent[:20]:
        repl.say(session_line(s, s.session_id == repl.session_id), "bold" if s.session_id == repl.session_id else "")


@command("resume", "/resume <id or fragment>", "continue a stored session")
async def _resume(repl: Repl, arg: str) -> None:
    if not arg:
        raise KaiwaError("/resume needs a session", "give its short id (see /sessions; Tab completes)")
    repl.describe(await repl.conversation.resume(arg))


@command("fork", "/fork", "continue in a copy of this conversation (the original stays as it is)")
async def _fork(repl: Repl, arg: str) -> None:
    original = repl.info.short_id if repl.info is not None else ""
    info = await repl.conversation.fork()
    await repl.refresh_recent()
    repl.say(f"forked: now in {info.short_id}, a copy of {original} (which stays as it was)")


@command("compact", "/compact", "continue in a new session that starts from a summary of this one")
async def _compact(repl: Repl, arg: str) -> None:
    from ..transcript import summariser_text

    if repl.info is None:
        raise KaiwaError("nothing to compact yet", "send a message first")
    original = repl.info.short_id
    repl.say(f"summarising {original} with {repl.model}… (Ctrl-C stops)")
    done = await repl.foreground(repl.conversation.compact(summariser_text, repl.say))
    if done is None:
        repl.say("interrupted", "yellow")
        return
    info, compacted = done
    await repl.refresh_recent()
    dropped = compacted.left_out_turns
    left_out = f"; the oldest {plural(dropped, 'turn')} did not fit" if dropped else ""
    repl.say(f"compacted: now in {info.short_id}, which starts from a summary of {original}{left_out}")
