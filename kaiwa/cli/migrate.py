"""`chat.py sessions migrate --to postgresql://…`: copy every SQLite session into Postgres (kaiwa/store/migrate.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import KaiwaError, UsageError
from .common import err_console, fail, load_settings

TO_HELP = (
    "The Postgres to copy into (postgresql://USER:PASSWORD@HOST:5432/DB). Default: SESSION_DB_URL — better than"
    " a password on the command line, where shell history and `ps` see it."
)


def migrate_command(
    to: Annotated[str | None, typer.Option("--to", help=TO_HELP, show_default=False)] = None,
    source: Annotated[
        Path | None,
        typer.Option("--from", help="The SQLite file to copy from. Default: SESSION_DB_PATH.", show_default=False),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Copy every session of the SQLite store (items, metadata, per-turn usage) into Postgres.

    Idempotent: sessions already there are left as they are, so running it again copies nothing twice, and a run
    that was interrupted picks up where it stopped. The SQLite file is only read."""
    import asyncio

    try:
        settings = load_settings()
        url = to or settings.db_url
        if not url:
            raise UsageError(
                "where to? give --to postgresql://USER:PASSWORD@HOST:5432/DB or set SESSION_DB_URL",
                "see docs/team.md",
            )
        path = Path(source).expanduser() if source else settings.db_path
        if not path.is_file():
            raise KaiwaError(f"no SQLite store at {path}", "give --from FILE or set SESSION_DB_PATH")
        line = asyncio.run(_migrate(path, url))
    except KaiwaError as exc:
        raise fail(exc, debug) from None
    typer.echo(line)


async def _migrate(path: Path, url: str) -> str:
    from ..store.migrate import migrate
    from ..store.postgres import PostgresStore
    from ..store.sqlite import SQLiteStore

    target = PostgresStore(url)
    source = SQLiteStore(path, warn=lambda line: err_console.print(line, style="yellow", highlight=False))
    show = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show:
            err_console.print(f"\r{done}/{total} sessions", end="", highlight=False)

    try:
        await source.open()
        await target.open()
        report = await migrate(source, target, progress)
    finally:
        if show:
            err_console.print()
        await target.close()
        await source.close()
    return report.line(source.location, target.location)
