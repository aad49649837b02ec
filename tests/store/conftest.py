"""`store`: a fresh, unopened store of each backend (the contract tests run on every one of them).

A backend is a factory `(request, tmp_path) -> (() -> Store)`: the returned callable makes another instance on the
SAME storage (a second process, a reopen). To add a backend, add an entry to BACKENDS.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kaiwa.store.base import Store

StoreFactory = Callable[[], Store]


def sqlite_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    from kaiwa.store.sqlite import SQLiteStore

    path = tmp_path / "sessions.sqlite3"
    return lambda: SQLiteStore(path, warn=lambda line: None)


def postgres_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """A fresh database on the run's real Postgres server (tests/harness/postgres.py)."""
    from kaiwa.store.postgres import PostgresStore

    url = request.getfixturevalue("postgres").create_database()
    return lambda: PostgresStore(url)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StoreFactory]] = {
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
}


@pytest.fixture(params=list(BACKENDS))
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes stores on one backend's fresh storage (call it twice for two 'processes' on the same data)."""
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def store(new_store: StoreFactory) -> Store:
    return new_store()
