"""The interactive mode's loop: read a line, run a / command or send it as a message, until /exit or Ctrl-D."""

from __future__ import annotations

from pathlib import Path

from . import commands, role_command, session_commands  # noqa: F401  (they register the / commands)
from .registry import EXIT, completions, dispatch
from .state import Repl, as_message


async def loop(repl: Repl) -> None:
    from .input import ReplCompleter, history_path, make_session, prompt_message

    try:
        history: Path | None = history_path()
    except OSError as exc:
        repl.say(f"no input history this time: {exc}", "yellow")
        history = None
    completer = ReplCompleter(completions, lambda: repl.aliases, lambda: [(s.short_id, s.title) for s in repl.recent])
    repl.session = session = make_session(completer, repl.toolbar, history)
    while True:
        await refresh(repl)
        default, repl.pending = repl.pending, ""
        try:
            line = await session.prompt_async(prompt_message(), default=default, handle_sigint=False)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line; it never leaves
        except EOFError:
            return  # Ctrl-D on an empty line
        if not line.strip():
            continue
        if line.startswith("/") and not line.startswith("//"):
            if await dispatch(repl, line) is EXIT:
                return
            continue
        await repl.send_message(as_message(line))


async def refresh(repl: Repl) -> None:
    """Before each prompt: the toolbar's figures as the store has them now (another process may have written to
    this session), and a word if another process deleted it (the next message then starts a new one)."""
    try:
        gone = await repl.conversation.refresh()
        # the meter once the session has a turn (a new session's prompt never waits on the proxy's /model/info)
        repl.context = await repl.conversation.context() if repl.info is not None else None
    except Exception:  # a store that cannot answer now: the next turn says why, in its one line
        return
    if gone is not None:
        repl.say(f"session {gone[-8:]} was deleted by another kaiwa process; your next message starts a new session",
                 "yellow")  # fmt: skip
