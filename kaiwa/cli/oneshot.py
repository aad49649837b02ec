"""The one-shot command's inputs: the message (--input, stdin, --attach) and what else the user asked of the turn
(--system, --temperature, --max-output-tokens, --schema), checked. `main.py` calls these."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import values
from ..errors import UsageError

if TYPE_CHECKING:
    from ..core.inputs import Message
    from ..core.schema import AnswerSchema
    from ..settings import Settings


@dataclass(frozen=True)
class Shape:
    """What the user asked of this turn beyond the message."""

    system: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    schema: AnswerSchema | None = None
    json_lines: bool = False


def read_message(given: str | None, attach: list[str] | None) -> Message:
    from ..core.inputs import build_message, read_piped

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
    from ..core.schema import load_schema

    if temperature is not None:  # the same rules as KAIWA_TEMPERATURE and KAIWA_MAX_OUTPUT_TOKENS
        values.TEMPERATURE.check(temperature, "--temperature")
    if max_output_tokens is not None:
        values.MAX_OUTPUT_TOKENS.check(max_output_tokens, "--max-output-tokens")
    if system is not None and not system.strip():
        raise UsageError("--system is empty", 'give instructions, e.g. --system "Answer in one sentence."')
    return Shape(
        system=system,
        temperature=temperature if temperature is not None else settings.temperature,
        max_output_tokens=max_output_tokens if max_output_tokens is not None else settings.max_output_tokens,
        schema=load_schema(schema) if schema else None,
        json_lines=json_lines,
    )
