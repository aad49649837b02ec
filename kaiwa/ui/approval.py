"""The faces of a tool approval (issue 19): the one-line question, answered with one key, and the line that says
what was decided.

    allow git/git_add(repo_path='/tmp/r', files=['a.txt'])? [y/a/n]

y allows this call, a allows this tool for the rest of the session, n declines it (the model is told and goes
on), Ctrl-C stops the turn (nothing of it is stored). The question is asked through prompt_toolkit (imported only
when a question is asked), on the terminal, or on stderr when stdout is not one.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import unicodedata
from typing import Any

from ..core.events import NO_TERMINAL, Answer, ApprovalDecided, ApprovalRequested
from .sanitize import clean

KEYS: dict[str, Answer] = {"y": "allow", "a": "allow_tool", "n": "decline"}
CHOICES = " [y/a/n] "


def _shown(text: str) -> str:
    """`text` without control characters, and with its invisible format characters (Unicode's Cf: bidi
    overrides and isolates, zero-width spaces) spelt out: a line you approve from must read as it is, and U+202E
    in an argument's name would show the rest of the line reversed."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cf" else c for c in clean(text))


def question(request: ApprovalRequested, width: int | None = None) -> str:
    """The question, in one line cut to the screen's width; arguments shown harmlessly."""
    from ..tools.display import describe_call

    width = width or shutil.get_terminal_size((100, 24)).columns
    note = " (it says it is read-only)" if request.read_only else ""
    room = max(24, width - len("allow ?") - len(note) - len(CHOICES) - 1)
    return _shown(f"allow {describe_call(request.name, request.arguments, limit=room)}?{note}{CHOICES}")


def waiting(request: ApprovalRequested) -> str:
    """The toolbar while the question waits."""
    keys = "y allow · a allow for this session · n decline · Ctrl-C stop"
    return f" waiting for your answer: {_shown(request.name)} · {keys}"


async def ask_key(message: str, toolbar: Any = None) -> Answer | None:
    """One key: y/a/n (either case) → the answer; Ctrl-C → None. Other keys (Enter too) are ignored."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.output.defaults import create_output

    bindings = KeyBindings()

    def answer_with(result: Answer | None) -> Any:
        def handler(event: KeyPressEvent) -> None:
            event.app.exit(result=result)

        return handler

    for key, answer in KEYS.items():
        bindings.add(key)(answer_with(answer))
        bindings.add(key.upper())(answer_with(answer))
    bindings.add("c-c")(answer_with(None))

    @bindings.add("<any>")
    @bindings.add("enter")
    def _ignore(event: KeyPressEvent) -> None:
        pass

    # stdout may be a pipe (answers piped on): the question then draws on stderr, as the input line does.
    output = None if os.isatty(1) else create_output(stdout=sys.stderr)
    session: Any = PromptSession(key_bindings=bindings, bottom_toolbar=toolbar, output=output)
    result: Answer | None = await session.prompt_async(message, handle_sigint=False)
    return result


async def ask_on_terminal(request: ApprovalRequested) -> Answer:
    """One-shot's approver on a terminal: the question on stderr; Ctrl-C stops the turn (KeyboardInterrupt)."""
    answer = await ask_key(question(request), toolbar=lambda: waiting(request))
    if answer is None:
        raise KeyboardInterrupt
    return answer


def asked_on_terminal() -> bool:
    """Whether one-shot can ask: the keys come from a terminal and the question can be seen on one."""
    return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()


def decided_line(event: ApprovalDecided, asked: ApprovalRequested | None) -> tuple[str, str]:
    """The line (and its style) that says what became of a call that needed approval."""
    name = clean(event.name)
    if event.by == NO_TERMINAL:
        from ..tools.display import describe_call

        call = describe_call(event.name, asked.arguments, limit=80) if asked else name
        return (f"declined {clean(call)}: it needs your approval and there is no terminal to ask on — "
                f"allow it with --approve {clean(shlex.quote(event.name))}", "yellow")  # fmt: skip
    if event.by == "you":
        return {
            "allow": ("  ✓ allowed", "green"),
            "allow_tool": (f"  ✓ allowed; {name} runs without asking for the rest of this session", "green"),
            "decline": ("  ✗ declined: the model is told", "yellow"),
        }[event.decision]
    if event.decision == "decline":
        return f"  ✗ declined {name}: {clean(event.by)}", "yellow"
    return f"  ✓ {name} allowed: {clean(event.by)}", "dim"
