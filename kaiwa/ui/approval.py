"""The faces of a tool approval (issue 19): the question, answered with one key, and the line that says what was
decided.

    allow git/git_add(repo_path='/tmp/r', files=['a.txt'])? [y/a/n/v]

y allows this call, a allows this tool for the rest of the session, n declines it (the model is told and goes on),
v shows the whole call and asks again, Ctrl-C stops the turn (nothing of it is stored). What you approve is what
runs: the arguments were checked against the tool's schema before asking (`core/approvals.py`); they are shown in
the tool's order (required ones first), names and values spelt out (`tools/display.py`), and a call too long for
one line gets one line per argument, each cut with a visible `…(+N chars)` — no argument pushes another out of
sight. Only a key pressed after the question appeared answers it (`ui/ask.py`).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from typing import Any

from rich.cells import cell_len

from ..core.events import NO_TERMINAL, Answer, ApprovalDecided, ApprovalRequested
from ..tools.display import argument_name, argument_value, cut, in_order, spelt_out
from .sanitize import clean

KEYS: dict[str, Answer | str] = {"y": "allow", "a": "allow_tool", "n": "decline", "v": "view"}
CHOICES = " [y/a/n/v] "


def _shown(text: str) -> str:
    """`text` harmless and as it is: controls as visible stand-ins, invisible characters as their \\u code."""
    return spelt_out(clean(text))


def _arguments(request: ApprovalRequested) -> list[tuple[str, str]] | None:
    """(name, value) as shown, in the tool's order; None when the arguments are not a JSON object."""
    try:
        parsed: Any = json.loads(request.arguments) if request.arguments.strip() else {}
    except json.JSONDecodeError:
        return None
    if not isinstance(parsed, dict):
        return None
    return [(argument_name(key), argument_value(value)) for key, value in in_order(parsed, request.order)]


def question(request: ApprovalRequested, width: int | None = None) -> str:
    """The question: one line when the whole call fits the screen's width; else the call's name, then one line
    per argument (each cut to the width, visibly), then the choices."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    name = _shown(request.name)
    note = " (it says it is read-only)" if request.read_only else ""
    shown = _arguments(request)
    if shown is None:
        shown = [("", _shown(request.arguments))]
    inline = ", ".join(f"{key}={value}" if key else value for key, value in shown)
    line = f"allow {name}({inline})?{note}{CHOICES}"
    if cell_len(line) < width:
        return line
    rows = [f"allow {name} with{note}:"]
    for key, value in shown:
        label = f"  {key}=" if key else "  "
        rows.append(label + cut(value, max(16, width - len(label) - 1)))
    rows.append(f"allow it?{CHOICES}")
    return "\n".join(rows)


def whole_call(request: ApprovalRequested) -> str:
    """`v`: the call as it will run, every argument whole, pretty-printed, spelt out."""
    try:
        parsed: Any = json.loads(request.arguments) if request.arguments.strip() else {}
    except json.JSONDecodeError:
        return f"the whole call to {_shown(request.name)} (its arguments as sent):\n{_shown(request.arguments)}"
    if isinstance(parsed, dict):
        parsed = dict(in_order(parsed, request.order))
    body = json.dumps(parsed, indent=2, ensure_ascii=False)
    return f"the whole call to {_shown(request.name)}:\n{_shown(body)}"


def waiting(request: ApprovalRequested, listening: bool = True) -> str:
    """The toolbar while the question waits: what the keys do once it listens."""
    if not listening:
        from .ask import NOT_YET

        return NOT_YET
    keys = "y allow · a allow for this session · n decline · v whole call · Ctrl-C stop"
    return f" waiting for your answer: {_shown(request.name)} · {keys}"


async def ask(request: ApprovalRequested, width: int | None = None) -> Answer | None:
    """The question until it is answered (`v` shows the whole call, then asks again); Ctrl-C → None."""
    from .ask import ask_key

    while True:
        answer = await ask_key(question(request, width), KEYS, toolbar=lambda listening: waiting(request, listening))
        if answer != "view":
            return answer  # type: ignore[return-value]
        stream = sys.stdout if sys.stdout.isatty() else sys.stderr  # where the question drew
        print(whole_call(request), file=stream, flush=True)


async def ask_on_terminal(request: ApprovalRequested) -> Answer:
    """One-shot's approver on a terminal: Ctrl-C stops the turn (KeyboardInterrupt)."""
    answer = await ask(request)
    if answer is None:
        raise KeyboardInterrupt
    return answer


def asked_on_terminal() -> bool:
    """Whether one-shot can ask: the keys come from a terminal and the question can be seen on one."""
    return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()


def decided_line(event: ApprovalDecided, asked: ApprovalRequested | None) -> tuple[str, str]:
    """The line (and its style) that says what became of a call that needed approval."""
    name = _shown(event.name)
    if event.by == NO_TERMINAL:
        from ..tools.display import describe_call

        call = describe_call(event.name, asked.arguments, limit=80) if asked else name
        return (f"declined {clean(call)}: it needs your approval and there is no terminal to ask on — "
                f"allow it with --approve {_shown(shlex.quote(event.name))}", "yellow")  # fmt: skip
    if event.by == "you":
        return {
            "allow": ("  ✓ allowed", "green"),
            "allow_tool": (f"  ✓ allowed; {name} runs without asking for the rest of this session", "green"),
            "decline": ("  ✗ declined: the model is told", "yellow"),
        }[event.decision]
    if event.decision == "decline":
        return f"  ✗ declined {name}: {clean(event.by)}", "yellow"
    return f"  ✓ {name} allowed: {clean(event.by)}", "dim"
