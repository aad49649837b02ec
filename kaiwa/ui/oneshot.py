"""One-shot: one message, its answer, and the session id — the terminal face (Markdown on a terminal, plain text
when piped) or `--json`'s, around one `Conversation` turn.

stdout carries only the answer (or the JSON Lines, or a `--schema` answer's checked JSON); everything else goes to
stderr. A failed turn raises the failure as a `KaiwaError` for the command to print as its one line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from typing import TYPE_CHECKING

from rich.console import Console

from ..core.events import Event, Notice, SessionOpened, TurnCompleted, TurnFailed
from ..pipe import write
from .approval import ask_on_terminal, asked_on_terminal
from .face import Face
from .jsonl import JsonLines
from .terminal import Renderer

if TYPE_CHECKING:
    from ..core.inputs import Message
    from ..core.options import Setup
    from ..settings import Settings


def make_face(face: Face, err: Console, schema: bool) -> Renderer | JsonLines:
    if face.json_lines:
        return JsonLines(err=err, has_schema=schema)
    out = Console(soft_wrap=False)
    # A --schema answer is printed once checked.
    return Renderer(out, err, markdown=out.is_terminal and not face.plain, show_reasoning=face.show_reasoning,
                    hold_text=schema)  # fmt: skip


def run_turn(settings: Settings, setup: Setup, message: Message, face: Face, err: Console) -> None:
    """The turn, shown; returns when it is stored. Raises KaiwaError (kind from the failure) otherwise."""
    from ..core.outcome import as_error
    from ..core.protocol import open_conversation

    shown = make_face(face, err, setup.schema is not None)
    held = setup.schema is not None and not face.json_lines  # the answer is shown once checked
    failures: list[TurnFailed] = []
    opened: list[SessionOpened] = []

    def emit(event: Event) -> None:
        if isinstance(event, SessionOpened):
            opened.append(event)
        if isinstance(event, TurnFailed):
            failures.append(event)  # raised below, printed once by the command (and as JSON with --json)
            if isinstance(shown, Renderer):
                shown.finish()
            return
        if isinstance(event, TurnCompleted) and held and isinstance(shown, Renderer):
            shown.finish()  # what was shown (reasoning) ends before the checked JSON; the usage line follows it
            return
        shown(event)

    for notice in message.notices:
        emit(Notice(notice))

    # A call that needs approval asks on the terminal, if there is one (not with --json): else it is declined.
    approver = ask_on_terminal if not face.json_lines and asked_on_terminal() else None

    async def one_turn() -> tuple[TurnCompleted | TurnFailed, str]:
        # Plain text into a pipe cannot be taken back: a stream cut after text went there is not retried.
        redo_text = not isinstance(shown, Renderer) or held or shown.out.is_terminal
        async with open_conversation(settings, dataclasses.replace(setup, redo_text=redo_text), emit,
                                     approver) as conversation:  # fmt: skip
            return await conversation.send(message.turn_input(), emit), conversation.session_id

    try:
        result, session_id = asyncio.run(one_turn())
    except BaseException:
        if isinstance(shown, Renderer):
            shown.finish()  # Ctrl-C: the partial answer stays visible; nothing of it is stored
        raise
    if isinstance(result, TurnFailed):
        if (result.kind == "bad_answer" or result.kept) and not face.json_lines:
            _session_line(err, session_id)
        # A new session exists once its first turn is stored: a failed one leaves none to name (`--json`'s
        # error then says "session_id": null), a `--schema` answer that does not follow the schema is stored.
        stored = result.kind == "bad_answer" or result.kept or not (opened and opened[0].new)
        left = session_id if stored else None
        raise as_error(dataclasses.replace(result, session_id=left)) from result.cause
    if held:
        write(sys.stdout, json.dumps(result.output, ensure_ascii=False, indent=2) + "\n")
        shown(result)
    if not face.json_lines:
        _session_line(err, result.session_id)


def _session_line(err: Console, session_id: str) -> None:
    if session_id:
        err.print(f"SESSION_ID={session_id}", highlight=False, soft_wrap=True)
