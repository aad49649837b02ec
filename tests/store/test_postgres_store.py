"""The Postgres store against a real server: what only Postgres has (the SDK's SQLAlchemySession on the same
tables, advisory locks across machines, tsvector search, the schema in a shared database). The behaviour every
store shares is in the parametrised contract tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from kaiwa.errors import KaiwaError
from kaiwa.store.base import SessionDump, SessionInfo, TurnRecord
from kaiwa.store.postgres import PostgresStore
from kaiwa.store.postgres.schema import SCHEMA_VERSION
from tests.harness.sdk_sessions import sdk_session

SID = "0199b000-0000-7000-8000-00000000aaaa"
USER = {"role": "user", "content": "How do I fix the Terraform errors? 東京の天気を教えて"}
ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Run terraform init first.", "annotations": []}],
}
REASONING = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "gAAAA-opaque"}


def with_store[T](url: str, body: Callable[[PostgresStore], Awaitable[T]]) -> T:
    async def main() -> T:
        store = PostgresStore(url)
        await store.open()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def sql(url: str, query: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def one_turn(store: PostgresStore, sid: str = SID, items: list[Any] | None = None) -> None:
    await store.commit_turn(sid, items or [USER, REASONING, ANSWER], TurnRecord(model="fake-a"), title="t")


# -- the SDK's tables -------------------------------------------------------------------------------------
def test_tables_are_the_sdks_own(postgres: Any, pg_url: str) -> None:
    """kaiwa creates agent_sessions/agent_messages column for column as SQLAlchemySession(create_tables=True)."""
    from agents.extensions.memory import SQLAlchemySession

    sdk_url = postgres.create_database()

    async def sdk_creates() -> None:
        session = SQLAlchemySession.from_url(
            "x", url=sdk_url.replace("postgresql:", "postgresql+asyncpg:"), create_tables=True
        )
        await session.add_items([USER])
        await session.engine.dispose()

    asyncio.run(sdk_creates())
    with_store(pg_url, one_turn)
    shape = (
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_name IN ('agent_sessions', 'agent_messages') ORDER BY 1, 2"
    )
    ours, sdks = asyncio.run(sql(pg_url, shape)), asyncio.run(sql(sdk_url, shape))
    assert [tuple(r) for r in ours] == [tuple(r) for r in sdks]
    assert len(ours) == 7


def test_the_sdk_reads_what_kaiwa_wrote_and_kaiwa_reads_what_the_sdk_wrote(pg_url: str) -> None:
    async def body(store: PostgresStore) -> None:
        await one_turn(store)
        assert await sdk_session(store, SID).get_items() == [USER, REASONING, ANSWER]
        # Rows are byte for byte what the SDK would have written.
        sdk_side = sdk_session(store, "0199b000-0000-7000-8000-00000000bbbb")
        await sdk_side.add_items([USER, ANSWER])
        assert await store.items(sdk_side.session_id) == [USER, ANSWER]
        raw = await sql(pg_url, "SELECT session_id, message_data FROM agent_messages ORDER BY id")
        by_session: dict[str, list[str]] = {}
        for sid, data in raw:
            by_session.setdefault(sid, []).append(data)
        assert by_session[SID][0] == by_session[sdk_side.session_id][0]
        assert "\\u6771" in by_session[SID][0]  # ensure_ascii, like the SDK

    with_store(pg_url, body)


# -- atomic turns ---------------------------------------------------------------------------------------
def test_a_commit_that_fails_half_way_leaves_nothing(pg_url: str) -> None:
    async def body(store: PostgresStore) -> None:
        await one_turn(store)
        too_big = TurnRecord(model="fake-a", input_tokens=2**70)  # the turn row fails after the items went in
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises, nothing may stay
            await store.commit_turn(SID, [USER, ANSWER], too_big, title="t")
        assert await store.items(SID) == [USER, REASONING, ANSWER]
        assert len(await store.turns(SID)) == 1

    with_store(pg_url, body)


# -- the lock -------------------------------------------------------------------------------------------
HOLDER = """
import asyncio, sys
from kaiwa.store.postgres.schema import SCHEMA_VERSION
from kaiwa.store.postgres import PostgresStore
async def main():
    store = PostgresStore(sys.argv[1])
    async with store.lock(sys.argv[2]):
        print("locked", flush=True)
        await asyncio.sleep(600)
asyncio.run(main())
"""


def test_a_killed_holder_releases_its_lock(pg_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url, SID], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"

        async def blocked() -> None:
            with pytest.raises(KaiwaError):
                async with PostgresStore(pg_url).lock(SID, timeout=0.3):
                    pass
            # KAIWA_LOCK_TIMEOUT (the store's own bound) applies when the caller names none, as a turn does
            started = time.monotonic()
            with pytest.raises(KaiwaError):
                async with PostgresStore(pg_url, lock_timeout=0.3).lock(SID):
                    pass
            assert time.monotonic() - started < 5

        asyncio.run(blocked())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

        async def free() -> float:
            started = time.monotonic()
            async with PostgresStore(pg_url).lock(SID, timeout=10):
                return time.monotonic() - started

        assert asyncio.run(free()) < 5
    finally:
        proc.kill()
        proc.wait()


# -- search ---------------------------------------------------------------------------------------------
def test_search_finds_words_stems_and_substrings_and_forgets_deleted_rows(pg_url: str) -> None:
    async def body(store: PostgresStore) -> None:
        await one_turn(store)
        other = "0199b000-0000-7000-8000-00000000dddd"
        await one_turn(store, other, [{"role": "user", "content": "nothing relevant here"}])
        hits = await store.search("terraform error")  # stemmed: "errors" matches "error"
        assert [h.session.session_id for h in hits] == [SID]
        assert "fix the Terraform errors" in hits[0].snippet
        hits = await store.search("天気")  # inside a run of CJK characters: found as a substring
        assert [h.session.session_id for h in hits] == [SID]
        assert "東京の天気" in hits[0].snippet
        hits = await store.search("here")  # a stop word: full-text search drops it, the substring pass does not
        assert [h.session.session_id for h in hits] == [other] and "nothing relevant here" in hits[0].snippet
        hits = await store.search("terra 東京")  # every word, each a substring of the message
        assert [h.session.session_id for h in hits] == [SID]
        assert await store.search("terra 大阪") == []
        assert await store.search("encrypted") == []  # reasoning is not message text
        assert await store.search("opaque") == []
        await store.truncate(SID, 0, 0)
        assert await store.search("terraform") == []
        await store.delete([other])
        assert await store.search("relevant") == []

    with_store(pg_url, body)


def test_search_sees_rows_the_sdk_wrote(pg_url: str) -> None:
    """The index is over the SDK's rows themselves: whoever writes them, search is in step."""

    async def body(store: PostgresStore) -> None:
        await store.create_session(SessionDump(SessionInfo(SID, 0, 0, "fake-a", "t")))
        await sdk_session(store, SID).add_items([{"role": "user", "content": "kubernetes ingress"}])
        assert [h.session.session_id for h in await store.search("ingress")] == [SID]
        await sdk_session(store, SID).pop_item()
        assert await store.search("ingress") == []

    with_store(pg_url, body)


# -- the schema -----------------------------------------------------------------------------------------
def test_many_first_opens_at_once_create_the_schema_once(pg_url: str) -> None:
    async def main() -> None:
        stores = [PostgresStore(pg_url) for _ in range(6)]
        await asyncio.gather(*(s.open() for s in stores))
        for s in stores:
            await s.close()

    asyncio.run(main())
    rows = asyncio.run(sql(pg_url, "SELECT value FROM kaiwa_meta WHERE key = 'schema_version'"))
    assert [r[0] for r in rows] == [str(SCHEMA_VERSION)]


def test_a_newer_schema_is_refused_and_left_alone(pg_url: str) -> None:
    with_store(pg_url, one_turn)
    asyncio.run(sql(pg_url, "UPDATE kaiwa_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(KaiwaError) as err:
        with_store(pg_url, one_turn)
    assert "newer kaiwa" in err.value.line()
    assert asyncio.run(sql(pg_url, "SELECT count(*) FROM agent_messages"))[0][0] == 3


def test_another_applications_table_is_refused_untouched(pg_url: str) -> None:
    asyncio.run(sql(pg_url, "CREATE TABLE agent_messages (id int, body text)"))
    with pytest.raises(KaiwaError) as err:
        with_store(pg_url, one_turn)
    assert "not the Agents SDK's" in err.value.line()
    tables = asyncio.run(sql(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    assert [r[0] for r in tables] == ["agent_messages"]


def test_turn_times_come_from_the_server_clock(pg_url: str) -> None:
    async def body(store: PostgresStore) -> tuple[float, float]:
        await one_turn(store)
        info = await store.get_session(SID)
        assert info is not None
        return info.updated_at, (await store.turns(SID))[0].created_at

    before = time.time()
    updated, turn_at = with_store(pg_url, body)
    assert before - 5 < updated < time.time() + 5 and abs(turn_at - updated) < 5
    assert json.loads(json.dumps(updated)) == updated


def test_lock_connections_go_back_to_the_pool_unlocked(pg_url: str) -> None:
    """The lock rides on a pooled connection: after a turn, a timeout or a Ctrl-C while waiting, no advisory lock
    is left behind on any connection."""

    async def advisory_locks() -> int:
        rows = await sql(pg_url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        return int(rows[0][0])

    async def main() -> None:
        a, b = PostgresStore(pg_url), PostgresStore(pg_url)
        await a.open()
        await b.open()
        try:
            for _ in range(3):
                async with a.lock(SID):
                    assert await advisory_locks() == 1
            assert await advisory_locks() == 0
            async with a.lock(SID):
                with pytest.raises(KaiwaError):
                    async with b.lock(SID, timeout=0.2):
                        pass
                waiter = asyncio.create_task(b.lock(SID, timeout=30).__aenter__())
                await asyncio.sleep(0.3)
                waiter.cancel()  # Ctrl-C while waiting
                with pytest.raises(asyncio.CancelledError):
                    await waiter
            assert await advisory_locks() == 0
            async with b.lock(SID, timeout=1), a.lock("0199b000-0000-7000-8000-00000000eeee", timeout=1):
                assert await advisory_locks() == 2
            assert await advisory_locks() == 0
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_schema_1_moves_forward_to_2_keeping_search(pg_url: str) -> None:
    """Schema 1 (search through an expression index on agent_messages) is migrated in one transaction: the
    search table is built from the rows already there and the old index goes."""
    with_store(pg_url, one_turn)
    v1 = [
        "DROP TRIGGER kaiwa_search_insert ON agent_messages",
        "DROP TRIGGER kaiwa_search_update ON agent_messages",
        "DROP TABLE kaiwa_search",
        "CREATE INDEX kaiwa_agent_messages_fts ON agent_messages USING gin"
        " ((to_tsvector('english'::regconfig, coalesce(kaiwa_item_text(message_data), ''))))",
        "UPDATE kaiwa_meta SET value = '1' WHERE key = 'schema_version'",
    ]
    for statement in v1:
        asyncio.run(sql(pg_url, statement))

    async def body(store: PostgresStore) -> list[str]:
        return [h.session.session_id for h in await store.search("terraform errors")]

    assert with_store(pg_url, body) == [SID]
    version = asyncio.run(sql(pg_url, "SELECT value FROM kaiwa_meta WHERE key = 'schema_version'"))
    assert version[0][0] == str(SCHEMA_VERSION)
    assert asyncio.run(sql(pg_url, "SELECT to_regclass('kaiwa_agent_messages_fts')"))[0][0] is None


def one_turn_at_version(pg_url: str, version: int, *undo: str) -> None:
    """A database with one stored turn, taken back to schema `version` by the `undo` statements."""
    with_store(pg_url, one_turn)
    for statement in (*undo, f"UPDATE kaiwa_meta SET value = '{version}' WHERE key = 'schema_version'"):
        asyncio.run(sql(pg_url, statement))


def test_schema_2_moves_forward_to_3_keeping_every_row(pg_url: str) -> None:
    """Schema 3 adds kaiwa_sessions.role and kaiwa_turns.cache_write_tokens to a round-3 database, in one
    transaction, keeping its sessions and turns."""
    one_turn_at_version(
        pg_url,
        2,
        "ALTER TABLE kaiwa_sessions DROP COLUMN role",
        "ALTER TABLE kaiwa_turns DROP COLUMN cache_write_tokens",
    )

    async def body(store: PostgresStore) -> tuple[Any, ...]:
        before = await store.get_session(SID)
        await store.commit_turn(SID, [], TurnRecord(model="fake-b", cache_write_tokens=12), title="t", role="critic")
        after = await store.get_session(SID)
        assert before is not None and after is not None
        return before.role, before.turns, after.role, [t.cache_write_tokens for t in await store.turns(SID)]

    assert with_store(pg_url, body) == (None, 1, "critic", [0, 12])
    version = asyncio.run(sql(pg_url, "SELECT value FROM kaiwa_meta WHERE key = 'schema_version'"))
    assert version[0][0] == str(SCHEMA_VERSION)  # and on to the newest
    assert asyncio.run(sql(pg_url, "SELECT count(*) FROM agent_messages"))[0][0] == 3


def test_schema_4_moves_forward_to_5_keeping_every_row(pg_url: str) -> None:
    """Schema 5 adds kaiwa_turns.attempts and .outcome (how a turn went) to a schema-4 database, keeping its turns."""
    one_turn_at_version(
        pg_url, 4, "ALTER TABLE kaiwa_turns DROP COLUMN attempts", "ALTER TABLE kaiwa_turns DROP COLUMN outcome"
    )

    async def body(store: PostgresStore) -> list[tuple[int, str]]:
        await store.commit_turn(SID, [], TurnRecord(model="fake-b", attempts=3, outcome="length"), title="t")
        return [(t.attempts, t.outcome) for t in await store.turns(SID)]

    assert with_store(pg_url, body) == [(1, ""), (3, "length")]
    version = asyncio.run(sql(pg_url, "SELECT value FROM kaiwa_meta WHERE key = 'schema_version'"))
    assert version[0][0] == "5" == str(SCHEMA_VERSION)
