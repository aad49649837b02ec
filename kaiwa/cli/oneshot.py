"""The main command's inputs: the message (--input, stdin, --attach) and the `Setup` the conversation opens with
(--model, --system, --temperature, --max-output-tokens, --schema, -r, …), checked. `main.py` calls these."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import values
from ..errors import UsageError
from ..settings import SERVICE_TIERS, VERBOSITY_LEVELS, check_choice
from ..ui.sanitize import clean

if TYPE_CHECKING:
    from ..core.inputs import Message
    from ..core.options import Setup
    from ..settings import Settings


def read_message(given: str | None, attach: list[str] | None) -> Message:
    from ..core.inputs import build_message, read_piped

    stdin = sys.stdin
    terminal = stdin is None or stdin.isatty()
    piped = read_piped(getattr(stdin, "buffer", None), terminal)
    return build_message(given, piped, attach or [])


def make_setup(
    settings: Settings,
    *,
    model: str | None,
    session_id: str | None,
    continue_latest: bool,
    reasoning: str | None,
    no_tools: bool,
    mcp_config: Path | None,
    system: str | None,
    temperature: float | None,
    max_output_tokens: int | None,
    schema: str | None,
    verbosity: str | None,
    service_tier: str | None,
    approve: list[str] | None,
    role: str | None,
) -> Setup:
    """The main command's flags, checked (one line, exit 2, before anything starts), over the settings."""
    from ..core.options import Setup
    from ..tools.approval import parse_approve_names

    if reasoning is not None:
        reasoning = values.reasoning(reasoning, "--reasoning")
    if temperature is not None:  # the same rules as KAIWA_TEMPERATURE and KAIWA_MAX_OUTPUT_TOKENS
        values.TEMPERATURE.check(temperature, "--temperature")
    if max_output_tokens is not None:
        values.MAX_OUTPUT_TOKENS.check(max_output_tokens, "--max-output-tokens")
    if system is not None and not system.strip():
        raise UsageError("--system is empty", 'give instructions, e.g. --system "Answer in one sentence."')
    if verbosity is not None:
        verbosity = check_choice(verbosity, VERBOSITY_LEVELS, "--verbosity")
    if service_tier is not None:
        service_tier = check_choice(service_tier, SERVICE_TIERS, "--service-tier")
    chosen_role = None
    if role is not None:
        from ..roles import load_role

        chosen_role = load_role(role)  # an unknown or broken role: one line, exit 2, before anything starts
        if chosen_role.replaces:
            from .common import err_console

            err_console.print(clean(f"kaiwa: {chosen_role.replaces}"), style="dim", highlight=False, soft_wrap=True)
    flags = {"model": model, "reasoning": reasoning, "instructions": system, "temperature": temperature,
             "max_output_tokens": max_output_tokens, "verbosity": verbosity}  # fmt: skip
    return Setup(
        model=model or settings.model, session_ref=session_id, continue_latest=continue_latest,
        reasoning=(reasoning or "").lower() or settings.reasoning, use_tools=not no_tools, mcp_config=mcp_config,
        instructions=system,
        temperature=temperature if temperature is not None else settings.temperature,
        max_output_tokens=max_output_tokens if max_output_tokens is not None else settings.max_output_tokens,
        schema=schema, verbosity=verbosity, service_tier=service_tier,
        approve=tuple(sorted(parse_approve_names(approve or []))), role=chosen_role,
        given=frozenset(k for k, v in flags.items() if v is not None),
    )  # fmt: skip
