"""`chat.py sessions migrate`: copy every session of an SQLite file into Postgres (`--to postgresql://…`), or into
kaiwa's own store (`--from FILE`: e.g. the sessions.sqlite3 the original chat.py left in a folder). The copying is
kaiwa/store/migrate.py's."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import KaiwaError, UsageError
from ..settings import Settings
from .common import err_console, load_settings, run_command

if TYPE_CHECKING:
    from ..store.migrate import MigrateReport

TO_HELP = (
    "The Postgres to copy into (postgresql://USER:PASSWORD@HOST:5432/DB). Default: SESSION_DB_URL — better than"
    " a password on the command line, where shell history and `ps` see it — else kaiwa's own SQLite store."
)
FROM_HELP = "The SQLite file to copy from. Default: SESSION_DB_PATH (when copying into Postgres)."


def migrate_command(
    to: Annotated[str | None, typer.Option("--to", help=TO_HELP, show_default=False)] = None,
    source: Annotated[
        Path | None,
        typer.Option("--from", help=FROM_HELP, show_default=False),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Copy every session of an SQLite store (items, metadata, per-turn usage) into Postgres, or with only --from
    into kaiwa's own store.

    Idempotent: sessions already there are left as they are, so running it again copies nothing twice, and a run
    that was interrupted picks up where it stopped. The SQLite file is only read."""
    import asyncio

    def work() -> int:
        settings = load_settings()
        url = to or settings.db_url
        if not url and source is None:
            raise UsageError(
                "where to? give --to postgresql://USER:PASSWORD@HOST:5432/DB or set SESSION_DB_URL (or --from FILE"
                " to copy a file into kaiwa's own store)",
                "see docs/team.md",
            )
        path = Path(source).expanduser() if source else settings.db_path
        if not path.is_file():
            raise KaiwaError(f"no SQLite store at {path}", "give --from FILE or set SESSION_DB_PATH")
        if not url and path.resolve() == settings.db_path.resolve():
            raise UsageError(f"{path} is kaiwa's store itself", "give --from another file")
        report, line = asyncio.run(_migrate(path, url, settings))
        typer.echo(line)
        if report.skipped:
            raise KaiwaError(
                report.skipped_line(), "fix or delete them in the source and migrate again: the rest is copied"
            )
        return 0

    run_command(work, debug=debug, interrupted="the sessions copied so far stay; run it again to copy the rest")


async def _migrate(path: Path, url: str | None, settings: Settings) -> tuple[MigrateReport, str]:
    from ..store.base import Store
    from ..store.migrate import migrate
    from ..store.sqlite import SQLiteStore

    def warn(line: str) -> None:
        err_console.print(line, style="yellow", highlight=False)

    target: Store
    if url:
        from ..store.postgres import PostgresStore

        target = PostgresStore(url)
    else:
        target = SQLiteStore(settings.db_path, warn=warn, own_folder=settings.db_path_default)
    source = SQLiteStore(path, warn=warn)
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
    return report, report.line(source.location, target.location)
