"""`chat.py sessions fork|export|import|compact`: sessions that leave or enter the store as copies.

Registered on `sessions_app` (see `sessions.py`); same conventions: one-line failures, SESSION_ID=… on stderr for a
new session, `--json` on stdout.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import KaiwaError, UsageError
from ..words import counted
from .common import err_console, load_settings
from .sessions import (
    DebugOption,
    IdArgument,
    JsonOption,
    _guarded,
    _note,
    _one_line,
    _print_json,
    sessions_app,
    with_store,
)

if TYPE_CHECKING:
    from ..store.base import SessionInfo, Store


def _notice(event: Any) -> None:
    """The conversation's events outside a turn (the store's notices, the gateway starting)."""
    from ..core.events import GatewayProgress, Notice

    if isinstance(event, Notice):
        _note(event.line, "yellow" if event.level == "warning" else "dim")
    elif isinstance(event, GatewayProgress):
        _gateway_view()(event)


@functools.cache
def _gateway_view() -> Any:
    from ..ui.progress import GatewayView

    return GatewayView(err_console)


def _announce(info: SessionInfo, what: str, as_json: bool) -> None:
    if as_json:
        _print_json({"id": info.session_id, "short_id": info.short_id, "title": info.title, "origin": info.origin})
    _note(what)
    err_console.print(f"SESSION_ID={info.session_id}", highlight=False, soft_wrap=True, markup=False)


@sessions_app.command()
def fork(session: IdArgument, as_json: JsonOption = False, debug: DebugOption = False) -> None:
    """A new session with a copy of the whole history and instructions; prints SESSION_ID=<new id>."""

    def body() -> None:
        from ..store import dump as dumps
        from ..store.naming import resolve

        async def work(store: Store) -> SessionInfo:
            copy = dumps.fork(await dumps.load(store, await resolve(store, session)))
            await store.create_session(copy)
            return copy.info

        info = with_store(load_settings(), work)
        _announce(
            info, f"{info.origin}: continue with --session-id {info.short_id}; the original is unchanged", as_json
        )

    _guarded(debug, body)


@sessions_app.command()
def export(
    session: IdArgument,
    format: Annotated[
        str, typer.Option("--format", "-f", help="markdown: a readable transcript; json: lossless.")
    ] = "markdown",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (mode 0600).")] = None,
    debug: DebugOption = False,
) -> None:
    """Write a session out: Markdown to read, or JSON (lossless) that `sessions import` restores."""

    def body() -> None:
        from ..store import dump as dumps
        from ..store.naming import resolve

        if format.lower() not in ("markdown", "md", "json"):
            raise UsageError(f"--format {format!r} is not one of markdown, json", "markdown to read, json to import")

        async def work(store: Store) -> Any:
            return await dumps.load(store, await resolve(store, session))

        settings = load_settings()
        dump = with_store(settings, work)
        if format.lower() == "json":
            text = dumps.dumps(dump)
        else:
            from ..ui.transcript import markdown

            text = markdown(dump)
        if output is None:
            sys.stdout.write(text)
        else:
            from ..output_file import write_replacing

            write_replacing(output, text, protect=[settings.db_path], hint="give another path with -o")
            _note(f"exported {dump.info.short_id} ({counted(dump.info.turns, 'turn')}) to {output}")

    _guarded(debug, body)


@sessions_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A JSON export (`sessions export ID --format json`); - for stdin.")],
    new_id: Annotated[bool, typer.Option("--new-id", help="Store it as a copy under a new id.")] = False,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Restore an exported session (same id, unless --new-id); it continues where the export left off."""

    def body() -> None:
        from ..store import dump as dumps

        loaded = dumps.imported(dumps.read_file(file), new_id)

        async def work(store: Store) -> None:
            if await store.get_session(loaded.info.session_id) is not None:
                raise KaiwaError(
                    f"session {loaded.info.session_id} is already stored",
                    "pass --new-id to import it as a copy under a new id",
                )
            await store.create_session(loaded)

        with_store(load_settings(), work)
        info = loaded.info
        _announce(info, f"imported {info.short_id} ({counted(info.turns, 'turn')}): {_one_line(info.title)}", as_json)

    _guarded(debug, body)


# -- compact ---------------------------------------------------------------------------------------------
@sessions_app.command()
def compact(
    session: IdArgument,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Proxy alias that writes the summary (default: the session's).")
    ] = None,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Summarise a long conversation with the model and continue in a new session that starts from the summary.
    The original is kept; prints SESSION_ID=<new id>."""

    def body() -> None:
        import asyncio

        from ..core.options import Setup
        from ..core.protocol import open_conversation
        from ..store.naming import resolve
        from ..ui.format import plural, record_usage_line
        from ..ui.transcript import summariser_text

        settings = load_settings()
        quiet_sdk_logs(debug)
        # The summary's model is known before the conversation opens: the managed gateway checks its settings.
        named = with_store(settings, lambda store: resolve(store, session))
        chosen = model or named.model or settings.model

        async def work() -> Any:
            setup = Setup(model=chosen, session_ref=named.session_id, use_tools=False, given=frozenset({"model"}))
            async with open_conversation(settings, setup, _notice) as conversation:
                info = conversation.info
                assert info is not None  # a named session
                _note(f"summarising {info.short_id} ({plural(info.turns, 'turn')}) with {conversation.model}…")
                _, done = await conversation.compact(summariser_text, lambda line: _note(line, "yellow"))
                return done

        done = asyncio.run(work())
        info = done.dump.info
        if as_json:
            _print_json(
                {
                    "id": info.session_id,
                    "short_id": info.short_id,
                    "origin": info.origin,
                    "summary": done.summary,
                    "left_out_turns": done.left_out_turns,
                }
            )
        else:
            from rich.console import Console
            from rich.markdown import Markdown

            from ..ui.sanitize import clean as safe

            out = Console()
            if out.is_terminal:
                out.print(Markdown(safe(done.summary)))
            else:
                sys.stdout.write(safe(done.summary).rstrip("\n") + "\n")
        record = done.dump.turns[0]
        _note(record_usage_line(record))
        _note(f"{info.origin}: continue with --session-id {info.short_id}; the original is kept")
        err_console.print(f"SESSION_ID={info.session_id}", highlight=False, soft_wrap=True, markup=False)

    _guarded(debug, body)


def quiet_sdk_logs(debug: bool) -> None:
    """As for a chat turn: failures reach the user as one line, so the SDK's own error logs stay quiet."""
    if debug:
        return
    import logging
    import warnings

    for name in ("openai.agents", "openai", "httpx2", "mcp"):
        logging.getLogger(name).disabled = True
    warnings.filterwarnings("ignore", message=r"(?s).*Pydantic serializer warnings")
