"""The main command: options → settings → a `Setup` → the one-shot face (`ui/oneshot.py`) or the REPL
(`ui/repl/`), which run the turn through the core's `Conversation`.

Nothing here imports the Agents SDK or openai at module level: `--help`, `sessions` and `gateway` stay fast.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from ..ui.face import Face
from . import oneshot
from .common import app, err_console, load_settings, run_command


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    input: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help='The message, e.g. --input "こんにちは"; "-" reads it from stdin. Text piped with --input follows'
            " it as a document (git diff | chat.py -i 'write the commit message'); without --input it is the message.",
        ),
    ] = None,
    session_id: Annotated[
        str | None,
        typer.Option(
            "--session-id",
            "-s",
            help="Continue this stored session: its id (SESSION_ID=…), short id, or a unique part of 6+ characters.",
        ),
    ] = None,
    continue_latest: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue the most recently used session.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Proxy alias for this turn, e.g. --model vertex-gemini-2.0-flash (default: a continued session's"
            " own, else LITELLM_MODEL, else bedrock-claude-3-5-sonnet).",
        ),
    ] = None,
    reasoning: Annotated[
        str | None,
        typer.Option(
            "--reasoning",
            help="Ask the model to reason: low, medium or high (KAIWA_REASONING). Ignored by models that cannot.",
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            "-r",
            metavar="NAME",
            help="A role: instructions, model and settings from NAME.md in a trusted project's .kaiwa/roles/,"
            " ~/.config/kaiwa/roles/ or kaiwa's own (chat.py roles lists them). Options here win over the role's.",
        ),
    ] = None,
    hide_reasoning: Annotated[bool, typer.Option("--hide-reasoning", help="Do not show reasoning summaries.")] = False,
    no_tools: Annotated[
        bool, typer.Option("--no-tools", help="Give the model no tools (neither built-in nor MCP).")
    ] = False,
    mcp_config: Annotated[
        Path | None,
        typer.Option("--mcp-config", help='MCP servers file ({"mcpServers": {...}}), e.g. --mcp-config mcp.json.'),
    ] = None,
    approve: Annotated[
        list[str] | None,
        typer.Option(
            "--approve",
            metavar="NAME",
            help="Let an MCP tool run without asking (repeatable): TOOL, SERVER/TOOL, or all. Otherwise a call asks"
            ' first on a terminal, and is declined without one. mcp.json\'s deny and "approve": "never" still win.',
        ),
    ] = None,
    plain: Annotated[
        bool, typer.Option("--plain", help="Plain text even on a terminal (no Markdown rendering).")
    ] = False,
    attach: Annotated[
        list[str] | None,
        typer.Option(
            "--attach",
            "-a",
            metavar="FILE",
            help="Attach a file (repeatable): text files by name, PNG/JPEG/WebP/GIF images, PDFs. e.g. -a shot.png",
        ),
    ] = None,
    system: Annotated[
        str | None,
        typer.Option("--system", help="Instructions for the session (KAIWA_SYSTEM); kept with it and on resume."),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", help="0-2 (KAIWA_TEMPERATURE); dropped by models that refuse it.")
    ] = None,
    max_output_tokens: Annotated[
        int | None, typer.Option("--max-output-tokens", help="Cap the answer's length (KAIWA_MAX_OUTPUT_TOKENS).")
    ] = None,
    verbosity: Annotated[
        str | None,
        typer.Option("--verbosity", help="How long answers run: low, medium or high; left out where a model cannot."),
    ] = None,
    service_tier: Annotated[
        str | None,
        typer.Option(
            "--service-tier", help="auto, default, flex or priority, where the model offers them (else left out)."
        ),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="FILE|FIELDS",
            help="Answer as JSON following a JSON Schema file, or fields: --schema 'title: str, tags: list[str]'.",
        ),
    ] = None,
    json_lines: Annotated[
        bool, typer.Option("--json", help="JSON Lines on stdout: session, text deltas, tool calls, done or error.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Send one message and stream the answer; the session id is printed as SESSION_ID=… on stderr."""
    if ctx.invoked_subcommand is not None:
        return
    if not debug:
        # Failures reach the user as one line; the SDK's own error logs would repeat them.
        for name in ("openai.agents", "openai", "httpx2", "mcp"):
            logging.getLogger(name).disabled = True
        # LiteLLM's bridged reasoning items carry `output_text` parts where openai's types expect
        # `reasoning_text`; the items replay fine, but pydantic warns on every serialisation.
        warnings.filterwarnings("ignore", message=r"(?s).*Pydantic serializer warnings")
    given: list[str | None] = [input if input != "-" else None]  # the message, once read: given back on failure

    def turn() -> int:
        settings = load_settings()
        setup = oneshot.make_setup(
            settings, model=model, session_id=session_id, continue_latest=continue_latest, reasoning=reasoning,
            no_tools=no_tools, mcp_config=mcp_config, system=system, temperature=temperature,
            max_output_tokens=max_output_tokens, schema=schema, verbosity=verbosity, service_tier=service_tier,
            approve=approve, role=role,
        )  # fmt: skip
        face = Face(plain, not hide_reasoning, json_lines, debug, tuple(attach or ()))
        if input is None and sys.stdin is not None and sys.stdin.isatty():  # a terminal: the interactive mode
            from ..ui.repl.start import run_repl

            return run_repl(settings, setup, face)
        message = oneshot.read_message(input, attach)
        given[0] = message.text
        from ..ui.oneshot import run_turn

        run_turn(settings, setup, message, face, err_console)
        return 0

    from ..core.outcome import TURN_INTERRUPTED

    run_command(turn, debug=debug, json_lines=json_lines, message=lambda: given[0], interrupted=TURN_INTERRUPTED)
