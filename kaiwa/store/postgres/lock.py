"""Turns on one session, one at a time, across processes and machines: a Postgres advisory lock.

Session-level, on a pooled connection held for the whole turn and given back unlocked; a process that dies closes
its connection and the server drops the lock with it, so a crash never leaves a session locked. The wait is
bounded by `lock_timeout` (which applies to advisory locks too): the server wakes the waiter on release, no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...errors import KaiwaError
from ..quiet import shielded
from . import schema as S


@asynccontextmanager
async def session_lock(
    engine: AsyncEngine,
    session_id: str,
    on_wait: Callable[[], None] | None,
    timeout: float,
    fail: Callable[[BaseException], BaseException],
) -> AsyncIterator[None]:
    """A session-level advisory lock on a connection of its own for the whole turn (taken from the pool and
    given back unlocked; a process that dies closes it, and the server drops the lock with it)."""
    key = S.SESSION_LOCK_PREFIX + session_id
    try:
        conn = await engine.connect()
        raw: Any = (await conn.get_raw_connection()).driver_connection
    except Exception as exc:
        raise fail(exc) from exc
    held = False
    try:
        try:
            held = await raw.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key)
            if not held:
                if on_wait is not None:
                    on_wait()
                # lock_timeout bounds the wait on an advisory lock too; the server wakes us on release.
                await raw.execute(f"SET lock_timeout = {max(1, int(timeout * 1000))}")
                await raw.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
                held = True
                await raw.execute("RESET lock_timeout")
        except asyncpg.LockNotAvailableError:
            raise KaiwaError(
                f"session {session_id[-8:]} is busy: another kaiwa has been answering in it for over {timeout:g} s",
                "try again when that turn has finished",
            ) from None
        except Exception as exc:
            raise fail(exc) from exc
        yield
    finally:
        await _release(conn, raw, key if held else None)


async def _release(conn: AsyncConnection, raw: Any, key: str | None) -> None:
    """Unlock and give the connection back; one whose lock was never taken (a timeout, a Ctrl-C while
    waiting: its state is unsure) is closed instead."""
    try:
        if key is None:
            raise ConnectionAbortedError
        await shielded(raw.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key))
        await shielded(conn.close())
    except (Exception, asyncio.CancelledError):
        # Whatever state it is in, this connection must not go back to the pool still holding the lock:
        # closing it is what releases the lock.
        with contextlib.suppress(Exception):
            await conn.invalidate()
        raw.terminate()
