"""The REPL's / commands: each takes the `Repl` and the words after the command's name, calls the conversation,
and prints. Command modules register themselves here; `dispatch` runs one.

An unknown `/word` gets one line naming the closest command; `//text` sends "/text" as a message.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .state import Repl

EXIT = object()  # what /exit returns to the loop
Run = Callable[[Repl, str], Awaitable[Any]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Run


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, help: str) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        COMMANDS[name] = Command(name, usage, help, run)
        return run

    return register


def completions() -> Sequence[tuple[str, str]]:
    return [(c.name, c.help) for c in COMMANDS.values()] + [("quit", "leave (same as /exit)")]


async def dispatch(repl: Repl, line: str) -> Any:
    word, _, arg = line[1:].partition(" ")
    word = word.strip().lower()
    name = "exit" if word == "quit" else word
    found = COMMANDS.get(name)
    if found is None:
        close = difflib.get_close_matches(word, [*COMMANDS, "quit"], n=1, cutoff=0.5)
        hint = f"did you mean /{close[0]}?" if close else "/help lists the commands"
        repl.say(f"unknown command /{word}: {hint} (to send a message starting with /, type //)", "yellow")
        return None
    try:
        return await found.run(repl, arg.strip())
    except Exception as exc:  # a command that fails is one line; the REPL stays
        from ...core.outcome import as_event

        repl.error(as_event(repl.conversation.explain(exc), exc))  # --debug: the traceback of what was raised
        return None


def first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= 80 else line[:79] + "…"
