"""Every way SESSION_DB_URL can fail to reach a usable database is one line naming it — and the password never
shows: not in the line, the hint, the exception's text or chain, the store's `location`, nor any log record."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from kaiwa.errors import KaiwaError, UsageError
from kaiwa.store.postgres import PostgresStore
from kaiwa.store.postgres.errors import mask_url, parse_url
from tests.harness.ports import free_port
from tests.harness.postgres import PostgresServer


@pytest.fixture(scope="module")
def tls_only_server() -> Iterator[PostgresServer]:
    server = PostgresServer.start(tls_only=True)
    yield server
    server.stop()


def failure(url: str) -> KaiwaError:
    async def main() -> None:
        store = PostgresStore(url)
        try:
            await store.open()
        finally:
            await store.close()

    with pytest.raises(KaiwaError) as err:
        asyncio.run(main())
    return err.value


def assert_secret_free(err: KaiwaError, *secrets: str) -> None:
    everything = "".join(traceback.format_exception(err)) + err.line() + repr(err)
    for secret in secrets:
        assert secret not in everything


CASES = {
    "unreachable": (lambda pg, tls: pg.url_for(port=free_port()), "cannot reach the Postgres server at 127.0.0.1"),
    "bad password": (
        lambda pg, tls: pg.url_for(password="Wr0ng-pa55word"),
        "Postgres refused the login of user 'kaiwa'",
    ),
    "missing database": (lambda pg, tls: pg.url_for("nosuchdb"), "the Postgres database 'nosuchdb' does not exist"),
    "tls required": (lambda pg, tls: tls.url, "requires TLS"),
    "tls disabled by the url": (lambda pg, tls: tls.url + "?sslmode=disable", "requires TLS"),
    "tls asked of a server without it": (lambda pg, tls: pg.url + "?sslmode=require", "does not offer TLS"),
    "unknown host": (lambda pg, tls: "postgresql://kaiwa:Wr0ng-pa55word@no-such-host.invalid/kaiwa", "cannot reach"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_connection_failures_are_one_line_without_the_password(
    case: str, postgres: PostgresServer, tls_only_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    make_url, expected = CASES[case]
    url = make_url(postgres, tls_only_server)
    caplog.set_level(logging.DEBUG)
    err = failure(url)
    line = err.line()
    assert expected in line, line
    assert "\n" not in line and " — " in line and err.exit_code != 0
    assert_secret_free(err, postgres.password, tls_only_server.password, "Wr0ng-pa55word")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (postgres.password, tls_only_server.password, "Wr0ng-pa55word"):
        assert secret not in logged


def test_a_missing_database_names_how_to_create_it(postgres: PostgresServer) -> None:
    err = failure(postgres.url_for("team_chats"))
    assert "createdb team_chats" in err.hint


@pytest.mark.parametrize(
    "url",
    ["mysql://kaiwa:s3cret-pw@db/kaiwa", "postgresql://kaiwa:s3cret-pw@db:port/kaiwa", "s3cret-pw"],
)
def test_a_malformed_url_is_a_usage_error_without_the_password(url: str) -> None:
    with pytest.raises(UsageError) as err:
        PostgresStore(url)
    assert err.value.exit_code == 2
    assert_secret_free(err.value, "s3cret-pw")


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://kaiwa:pa%40ss@db:5432/kaiwa", "postgresql://kaiwa:***@db:5432/kaiwa"),
        ("postgresql://kaiwa@db/kaiwa", "postgresql://kaiwa@db/kaiwa"),
        (
            "postgresql://db/kaiwa?user=k&password=hunter22&sslmode=require",
            "postgresql://db/kaiwa?user=k&password=***&sslmode=require",
        ),
        ("postgresql+asyncpg://u:p@w@db/kaiwa", "postgresql+asyncpg://u:***@db/kaiwa"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_location_is_masked_and_names_what_the_user_typed(postgres: PostgresServer) -> None:
    store = PostgresStore(postgres.url)
    assert store.location == postgres.url.replace(postgres.password, "***")
    assert postgres.password not in repr(vars(store).get("location"))
    target = parse_url("postgres://alice:pw@db.example:6432/chats")
    assert (target.user, target.host, target.database) == ("alice", "db.example:6432", "chats")


def test_the_password_never_reaches_sqlalchemy(postgres: PostgresServer, pg_url: str) -> None:
    """The engine's URL carries nothing (asyncpg gets the DSN through async_creator): no SQLAlchemy log,
    repr or error message can print the password."""

    async def main() -> Any:
        store = PostgresStore(pg_url)
        await store.open()
        try:
            return store.engine.url.render_as_string(hide_password=False), repr(store.engine)
        finally:
            await store.close()

    rendered, rep = asyncio.run(main())
    assert postgres.password not in rendered + rep
