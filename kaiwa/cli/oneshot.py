"""The one-shot command's inputs and outputs around a turn: the message (--input, stdin, --attach), the session's
instructions (--system), the answer's form (--schema, --json). `main.py` calls these; the REPL reuses the chat
modules they wrap (`chat/inputs.py`, `chat/schema.py`, `chat/jsonl.py`)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import KaiwaError, UsageError

if TYPE_CHECKING:
    from ..chat.inputs import Message
    from ..chat.schema import AnswerSchema
    from ..settings import Settings
    from ..store.base import TurnRecord


class AnswerRejected(KaiwaError):
    """The turn went through and is stored, but its answer does not follow --schema (exit 1)."""


@dataclass(frozen=True)
class Shape:
    """What the user asked of this turn beyond the message."""

    system: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    schema: AnswerSchema | None = None
    json_lines: bool = False


def read_message(given: str | None, attach: list[str] | None) -> Message:
    from ..chat.inputs import build_message, read_piped

    stdin = sys.stdin
    terminal = stdin is None or stdin.isatty()
    piped = read_piped(getattr(stdin, "buffer", None), terminal)
    return build_message(given, piped, attach or [])


def make_shape(
    settings: Settings,
    system: str | None,
    temperature: float | None,
    max_output_tokens: int | None,
    schema: str | None,
    json_lines: bool,
) -> Shape:
    from ..chat.schema import load_schema

    if temperature is not None and not 0 <= temperature <= 2:
        raise UsageError(f"--temperature {temperature:g} is out of range", "give a number from 0 to 2, e.g. 0.2")
    if max_output_tokens is not None and max_output_tokens < 1:
        raise UsageError(f"--max-output-tokens {max_output_tokens} is too small", "give at least 1, e.g. 2000")
    if system is not None and not system.strip():
        raise UsageError("--system is empty", 'give instructions, e.g. --system "Answer in one sentence."')
    return Shape(
        system=system,
        temperature=temperature if temperature is not None else settings.temperature,
        max_output_tokens=max_output_tokens if max_output_tokens is not None else settings.max_output_tokens,
        schema=load_schema(schema) if schema else None,
        json_lines=json_lines,
    )


def instructions_for(shape: Shape, settings: Settings, new: bool, stored: str | None) -> str | None:
    """A new session: --system, else KAIWA_SYSTEM, else kaiwa's default (None). A resumed one: --system, else
    what it was created with (its own default stays the default)."""
    if shape.system is not None:
        return shape.system
    return settings.system if new else stored


class HeldText:
    """Wraps a renderer: the answer's text is held back (a --schema answer is printed once checked)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.answer = ""

    def text(self, delta: str) -> None:
        self.answer += delta

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def show_result(shape: Shape, renderer: Any, sid: str, record: TurnRecord, answer: str, usage: str) -> None:
    """After a stored turn: the checked JSON (--schema), `done` (--json), the usage line and SESSION_ID."""
    from .common import err_console

    value: Any = None
    if shape.schema is not None:
        try:
            value = shape.schema.check(answer, sid)
        except KaiwaError as exc:
            if not shape.json_lines:
                err_console.print(f"SESSION_ID={sid}", highlight=False, soft_wrap=True)
            raise AnswerRejected(exc.message, exc.hint) from None
    if shape.json_lines:
        extra = {"output": value} if shape.schema is not None else {}
        renderer.done(sid, record, **extra)
        return
    if shape.schema is not None:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
        sys.stdout.flush()
    renderer.usage(usage)
    err_console.print(f"SESSION_ID={sid}", highlight=False, soft_wrap=True)


def json_error(exc: KaiwaError) -> None:
    """--json: the failure as the last line on stdout (the one line on stderr stays too)."""
    from ..chat.jsonl import JsonLinesRenderer

    JsonLinesRenderer().error(exc)
