"""Opening the SQLite store: check the file, create it private, refuse what is not kaiwa's (before writing a byte),
check its pages, switch to WAL, migrate forward. Also `retry`, which every statement goes through.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ...errors import KaiwaError
from . import files, owned, schema

# Each statement waits this long for another writer (SQLite's own wait, which nothing can interrupt)…
BUSY_TIMEOUT = 0.5
BUSY_DEADLINE = 60.0  # …then `retry` waits on (stopping at once for a cancelled caller), this long in all
QUICK_CHECK_BYTES = 8 << 20  # files up to this size are checked on every open (quick_check: about 3 ms a MB)…
QUICK_CHECK_EVERY = 86400.0  # …larger ones at most once a day


class Stopped(Exception):
    """A retried call was given up because its caller went away (cancelled)."""


def retry[T](work: Callable[[], T], path: Path, stop: threading.Event | None = None) -> T:
    """Run `work`, again while the file is busy (another process writing), until BUSY_DEADLINE; then one line.
    Runs in the store's worker thread (worker.py): the pauses block that thread, never the event loop.
    `stop` set: give up before the next attempt (raises Stopped)."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + BUSY_DEADLINE
    pause = 0.01
    while True:
        if stop.is_set():
            raise Stopped
        try:
            return work()
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise files.explain(exc, path) from exc
            stop.wait(pause)
            pause = min(pause * 2, 0.2)


def refuse(shape: schema.Shape, path: Path) -> None:
    if shape.foreign:
        tables = ", ".join(shape.others[:4] or shape.tables[:4])
        raise KaiwaError(
            f"{path} belongs to another application (tables: {tables}); kaiwa left it untouched",
            "set SESSION_DB_PATH to a file of kaiwa's own",
        )
    if shape.version is not None and shape.version > schema.SCHEMA_VERSION:
        raise KaiwaError(
            f"{path} was written by a newer kaiwa (store schema {shape.version}; this kaiwa knows up to"
            f" {schema.SCHEMA_VERSION})",
            "upgrade kaiwa, or set SESSION_DB_PATH to another file",
        )


def _meta(conn: sqlite3.Connection, shape: schema.Shape, key: str) -> str | None:
    if "kaiwa_meta" not in shape.tables:
        return None
    row = conn.execute("SELECT value FROM kaiwa_meta WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else None


def check_pages(conn: sqlite3.Connection, shape: schema.Shape, path: Path) -> None:
    """PRAGMA quick_check before anything is written: on every open while the file is small (a few ms), at most
    daily above QUICK_CHECK_BYTES (100 ms at 10,000 items); SQLite itself refuses any damaged page it meets in
    between. A damaged file is refused whole and left untouched."""
    big = path.stat().st_size > QUICK_CHECK_BYTES
    last = _meta(conn, shape, "checked_at") if big else None
    if last is not None and time.time() - float(last) < QUICK_CHECK_EVERY:
        return
    problems = retry(lambda: conn.execute("PRAGMA quick_check(3)").fetchall(), path)
    if problems != [("ok",)]:
        first = str(problems[0][0]).splitlines()[0][:120] if problems else "no answer"
        raise KaiwaError(f"the session database {path} is damaged ({first})", files.DAMAGED_HINT)
    if big and shape.version == schema.SCHEMA_VERSION:
        sql = "INSERT INTO kaiwa_meta (key, value) VALUES ('checked_at', ?) ON CONFLICT(key) DO UPDATE SET value = ?"
        retry(lambda: conn.execute(sql, (str(time.time()), str(time.time()))), path)


def _migrate(conn: sqlite3.Connection, path: Path) -> list[str]:
    """Create, adopt or migrate in one transaction; the lines to say about it."""
    said: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        shape = schema.Shape(conn)  # again, inside the transaction: another process may have done it
        refuse(shape, path)
        if shape.sdk_only:
            from .adopt import adopt

            said.append(adopt(conn).line(path))
        elif shape.empty or (shape.version or 1) < schema.SCHEMA_VERSION:
            if shape.empty:
                schema.create_v1(conn)
            if repaired := schema.migrate(conn, shape.version or 1):
                said.append(
                    f"kaiwa: removed {repaired} item(s) that interrupted turns had left half-written in {path}"
                    " (those sessions now end with their last complete answer)"
                )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return said


def open_connection(path: Path, warn: Callable[[str], None], own_folder: bool = False) -> sqlite3.Connection:
    """A checked, current, WAL-mode connection in autocommit mode (writes use explicit BEGIN IMMEDIATE)."""
    path = files.check_db_path(path, own_folder)
    made = owned.claim_side_files(path)  # before the database is made: a refused store leaves nothing behind
    created = files.create_private(path)
    # Used only by the store's worker thread (worker.py): sqlite3's same-thread check stays on.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        shape = retry(lambda: schema.Shape(conn), path)  # reads only: nothing is written before the file is known
        refuse(shape, path)
        if not shape.empty:
            check_pages(conn, shape, path)
        if not created and (line := files.too_open(path)):
            warn(line)  # said, never changed: the file is the user's
        retry(lambda: conn.execute("PRAGMA journal_mode=WAL"), path)
        if shape.version != schema.SCHEMA_VERSION:
            for line in retry(lambda: _migrate(conn, path), path):
                warn(line)
        conn.execute("PRAGMA foreign_keys = ON")
        # WAL's recommended durability: a commit no longer waits for an fsync (4 ms a turn measured, 13 ms on a
        # loaded machine; bench/bench_repl.py --phases). A killed kaiwa still loses nothing it committed and
        # never half a turn; only a power loss or OS crash may roll back the last turns, whole.
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        owned.release(made)
        raise
    return conn
