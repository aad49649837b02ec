"""`chat.py sessions`: the stored conversations."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ..errors import KaiwaError
from ..settings import load_settings
from .common import app, fail


@app.command()
def sessions(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 20,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """List stored sessions, newest first: id, last used, model, turns, tokens, title."""
    import asyncio
    import datetime as dt

    from ..store import open_store
    from ..store.base import SessionInfo

    async def listed() -> list[SessionInfo]:
        store = open_store(load_settings())
        try:
            await store.open()
            return await store.list_sessions(limit)
        finally:
            await store.close()

    try:
        rows = asyncio.run(listed())
    except KaiwaError as exc:
        raise fail(exc, debug) from None
    out = Console()
    for s in rows:
        when = dt.datetime.fromtimestamp(s.updated_at).strftime("%Y-%m-%d %H:%M")
        cost = f" ${s.cost:.4f}" if s.cost else ""
        out.print(
            f"{s.session_id}  {when}  {s.model}  {s.turns} turns"
            f"  {s.input_tokens + s.output_tokens:,} tok{cost}  {s.title}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
