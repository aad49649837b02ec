"""The SQLite store's connection, kept off the event loop: every call on it runs in one thread of the store's own.

sqlite3 blocks: a statement waits up to the busy timeout for another process's write, a whole write is retried
(with pauses) while the file stays busy, and opening checks pages and may migrate. Run on the event loop, any of
these would freeze whatever else shares it (a spinner, a streamed answer, an MCP server's pipe). One dedicated
thread per store also keeps the connection on the thread that made it, as sqlite3 wants (`check_same_thread`).

A cancelled call (Ctrl-C) stops retrying at its next pause and is waited for before the cancellation goes on, so a
write is either done or not when the caller sees it end — never still running behind its back.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..quiet import shielded
from . import files
from .connect import open_connection, retry


class SQLiteWorker:
    def __init__(self, path: Path, warn: Callable[[str], None], own_folder: bool = False) -> None:
        self.path = path
        self._own_folder = own_folder
        self._warn = warn
        self._said: list[str] = []  # warnings made in the worker thread, said on the caller's
        self._conn: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaiwa-sqlite")
        return self._pool

    def _connection(self) -> sqlite3.Connection:
        """In the worker thread: the connection, opening (checking, creating, migrating) the store the first time."""
        if self._conn is None:
            try:
                self._conn = open_connection(self.path, self._said.append, self._own_folder)
            except sqlite3.Error as exc:
                raise files.explain(exc, self.path) from exc
            except OSError as exc:  # making its files (-wal, -shm, the database) before SQLite opens it
                raise files.explain_os(exc, self.path) from exc
        return self._conn

    def _job[T](self, work: Callable[[sqlite3.Connection], T], write: bool, stop: threading.Event) -> T:
        conn = self._connection()

        def attempt() -> T:
            if not write:
                return work(conn)
            conn.execute("BEGIN IMMEDIATE")  # short write transactions, retried whole while the file is busy
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        try:
            return retry(attempt, self.path, stop)
        except sqlite3.Error as exc:
            raise files.explain(exc, self.path) from exc

    def _say(self) -> None:
        while self._said:
            self._warn(self._said.pop(0))

    async def run[T](self, work: Callable[[sqlite3.Connection], T], write: bool = False) -> T:
        """`work(conn)` in the worker thread (in one BEGIN IMMEDIATE transaction if `write`)."""
        stop = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(self._executor(), self._job, work, write, stop)
        try:
            return await shielded(future)  # given up (Stopped) after a cancel: nobody awaits it
        except asyncio.CancelledError:
            stop.set()
            await asyncio.wait([future])
            raise
        finally:
            self._say()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(pool, shut)
        pool.shutdown(wait=False)  # its one thread is idle now: it exits
