"""The interactive mode's loop: read a line, run a / command or send it as a message, until /exit or Ctrl-D."""

from __future__ import annotations

from pathlib import Path

from . import commands, role_command, session_commands  # noqa: F401  (they register the / commands)
from .registry import EXIT, completions, dispatch
from .state import Repl


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
        await repl.send_message(line[1:] if line.startswith("//") else line)
