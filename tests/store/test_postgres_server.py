"""The test server itself is a real, password-protected PostgreSQL on loopback (what the Postgres store meets)."""

from __future__ import annotations

import asyncio
import stat
from typing import Any

import asyncpg
import pytest


def test_server_answers_over_tcp_with_the_password(postgres: Any) -> None:
    async def check() -> tuple[str, str, str]:
        conn = await asyncpg.connect(postgres.url, timeout=10)
        try:
            return (
                await conn.fetchval("SHOW server_version"),
                await conn.fetchval("SHOW listen_addresses"),
                await conn.fetchval("SELECT current_database()"),
            )
        finally:
            await conn.close()

    version, listen, database = asyncio.run(check())
    assert int(version.split(".")[0]) >= 16
    assert listen == "127.0.0.1"
    assert database == "kaiwa"
    assert stat.S_IMODE(postgres.data.stat().st_mode) == 0o700


def test_server_refuses_a_wrong_password(postgres: Any) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(asyncpg.connect(postgres.url_for(password="wrong"), timeout=10))


def test_each_test_gets_its_own_database(postgres: Any, pg_url: str) -> None:
    assert pg_url != postgres.url and pg_url.startswith("postgresql://kaiwa:")

    async def tables() -> int:
        conn = await asyncpg.connect(pg_url, timeout=10)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
        finally:
            await conn.close()

    assert asyncio.run(tables()) == 0
