"""How a face shows things: the flags that are not the conversation's (those are `core.options.Setup`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Face:
    plain: bool = False  # plain text even on a terminal
    show_reasoning: bool = True
    json_lines: bool = False  # --json (one-shot)
    debug: bool = False  # tracebacks with the one line (the REPL's commands; the CLI prints its own)
    attach: tuple[str, ...] = ()  # -a FILE in the interactive mode: attached to the first message
