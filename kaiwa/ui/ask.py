"""A question that gates an action (a tool approval, `sessions delete`'s confirmation), answered with one key —
and only with a key pressed after the question was drawn.

A question is a new prompt, and a prompt reads the keys already waiting: the user typing their next message, or
`make all` into the shell while a one-shot runs, would answer it (the `a` of "also" allowed a tool for the
session). So, before the prompt starts, what was typed ahead is discarded: the terminal's input queue
(`tcflush`) and prompt_toolkit's own type-ahead store (keys read past the Enter of the last input line). Then the
answers are armed only once the keyboard has been quiet for `QUIET` seconds since the question appeared: a key
pressed meanwhile — one already on its way, or a user still typing without looking — is dropped and restarts
the wait, since no one can have read the question and answered it that fast. The toolbar says when the
question listens. Ctrl-C is never held back: stopping is always safe.

Flushing the terminal after the question is drawn, rather than before, would also throw away the terminal's
reply to prompt_toolkit's cursor-position request (sent as it draws): the toolbar would not show.

prompt_toolkit is imported only when a question is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

QUIET = 0.5  # seconds without a key, after the question appears, before it takes an answer
NOT_YET = " read the question: keys pressed before it appeared, or within a moment of it, are ignored"


class _Gate:
    """Whether the question takes answers yet: armed `QUIET` seconds after it was drawn and the last key."""

    def __init__(self, quiet: float) -> None:
        self.quiet = quiet
        self.armed = False
        self._drawn = False
        self._timer: asyncio.TimerHandle | None = None

    def drawn(self, app: Any) -> None:
        if not self._drawn:
            self._drawn = True
            self._restart(app)

    def pressed(self, app: Any) -> None:
        if self._drawn and not self.armed:
            self._restart(app)

    def _restart(self, app: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.quiet, self._arm, app)

    def _arm(self, app: Any) -> None:
        self.armed = True
        app.invalidate()  # the toolbar now says the question listens

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def discard_typed_ahead(input_obj: Any) -> None:
    """Drop what was typed before a question: the terminal's unread input and prompt_toolkit's type-ahead."""
    from prompt_toolkit.input.typeahead import clear_typeahead

    clear_typeahead(input_obj)
    with contextlib.suppress(ImportError, OSError, ValueError, AttributeError, NotImplementedError):
        import termios

        fd = input_obj.fileno()
        if os.isatty(fd):
            termios.tcflush(fd, termios.TCIFLUSH)


async def ask_key[T](
    message: Any,
    keys: Mapping[str, T],
    *,
    toolbar: Callable[[bool], str] | None = None,
    enter: T | None = None,
    on_stderr: bool = False,
    quiet: float = QUIET,
) -> T | None:
    """One key of `keys` (either case) → its answer; Enter → `enter` when given; Ctrl-C → None. Other keys, and
    every key before the question listens, are ignored. `toolbar(listening)`: the bottom line. The question draws
    on stderr when `on_stderr` or when stdout is not a terminal (answers piped on)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.output.defaults import create_output

    gate = _Gate(quiet)
    listening = Condition(lambda: gate.armed)
    bindings = KeyBindings()

    def answer_with(result: T | None) -> Callable[[KeyPressEvent], None]:
        def handler(event: KeyPressEvent) -> None:
            event.app.exit(result=result)

        return handler

    # Added first: of two bindings for the same key, prompt_toolkit calls the one added last.
    @bindings.add("<any>")
    @bindings.add("enter")
    def _early_or_other(event: KeyPressEvent) -> None:
        gate.pressed(event.app)

    for key, answer in keys.items():
        bindings.add(key, filter=listening)(answer_with(answer))
        bindings.add(key.upper(), filter=listening)(answer_with(answer))
    if enter is not None:
        bindings.add("enter", filter=listening)(answer_with(enter))
    bindings.add("c-c")(answer_with(None))

    output = create_output(stdout=sys.stderr) if on_stderr or not os.isatty(1) else None

    def bottom() -> Any:
        assert toolbar is not None
        # Italic until it listens: prompt_toolkit redraws only the cells whose character or style changed, so a
        # style of its own makes the listening toolbar appear whole, as one piece of text.
        return toolbar(True) if gate.armed else [("italic", toolbar(False))]

    session: Any = PromptSession(
        key_bindings=bindings, bottom_toolbar=bottom if toolbar is not None else None, output=output
    )
    app = session.app
    app.after_render += gate.drawn
    discard_typed_ahead(app.input)
    try:
        result: T | None = await session.prompt_async(message, handle_sigint=False)
    finally:
        gate.close()
    return result


def confirm(question: str, action: str) -> bool:
    """A yes/no question on stderr that defaults to no (`sessions delete`): y → True; n, Enter, Ctrl-C → False.
    `action`: what y does, for the toolbar ("delete")."""

    def toolbar(listening: bool) -> str:
        return f" y {action} · n or Enter: no · Ctrl-C: no" if listening else NOT_YET

    answer = asyncio.run(ask_key(f"{question} [y/N] ", {"y": True, "n": False}, toolbar=toolbar, enter=False,
                                 on_stderr=True))  # fmt: skip
    return bool(answer)
