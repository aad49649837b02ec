"""Session stores: `open_store(settings)` picks the backend (Postgres when SESSION_DB_URL is set, else SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import KaiwaError

if TYPE_CHECKING:
    from ..settings import Settings
    from .base import Store


def store_failure(exc: BaseException, store: Store) -> KaiwaError | None:
    """One line for a storage error raised outside the store's own methods (the SDK reading the history), else
    None."""
    import sqlite3

    from .sqlite import SQLiteStore

    if isinstance(exc, sqlite3.Error) and isinstance(store, SQLiteStore):
        from .sqlite.files import explain

        return explain(exc, store.path)
    explain_pg = getattr(store, "explain", None)  # the Postgres store, without importing SQLAlchemy here
    return explain_pg(exc) if callable(explain_pg) else None


def open_store(settings: Settings, warn: Callable[[str], None] | None = None) -> Store:
    """The configured store, not opened yet (`await store.open()` checks it and creates or migrates its tables).
    `warn`: where one-line warnings go (default: stderr)."""
    if settings.db_url:
        from .postgres import PostgresStore  # SQLAlchemy/asyncpg only when the user asked for Postgres

        return PostgresStore(settings.db_url, lock_timeout=settings.lock_timeout)
    from pathlib import Path

    from .sqlite import SQLiteStore

    default = settings.db_path_default  # kaiwa's data folder: made on first use; a chat.py-era file here is pointed out
    return SQLiteStore(
        settings.db_path,
        warn=warn,
        lock_timeout=settings.lock_timeout,
        own_folder=default,
        seed_from=Path.cwd() if default else None,
    )
