"""The store contract: what every backend (tests/store/conftest.py BACKENDS) must do, method by method.

Each test runs its body in one event loop (`run`), on real storage: a real SQLite file, a real Postgres server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from kaiwa.errors import KaiwaError
from kaiwa.store.base import Compaction, SessionDump, SessionInfo, Store, TurnRecord
from tests.harness.sdk_sessions import sdk_session

from .conftest import StoreFactory


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(body())  # type: ignore[arg-type]


@asynccontextmanager
async def opened(store: Store) -> AsyncIterator[Store]:
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def answer(text: str, n: int = 0) -> dict[str, Any]:
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


REASONING = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "思考の要約"}],
    "encrypted_content": "gAAAA" + "x" * 300,
}
TOOL_CALL = {"type": "function_call", "call_id": "call_1", "name": "calculate", "arguments": '{"expr": "2+2"}'}
TOOL_OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": "4"}


def record(model: str = "m", **kw: Any) -> TurnRecord:
    return TurnRecord(model=model, **kw)


async def turn(store: Store, sid: str, question: str, reply: str, model: str = "m", **kw: Any) -> None:
    await store.commit_turn(sid, [user(question), answer(reply)], record(model, **kw), title=question[:60])


# -- lifecycle ------------------------------------------------------------------------------------------


def test_open_is_idempotent_and_data_survives_a_reopen(new_store: StoreFactory) -> None:
    async def body() -> None:
        async with opened(new_store()) as store:
            await turn(store, "s-1", "hello", "hi")
        async with opened(new_store()) as again:
            await again.open()  # twice is fine
            assert [s.session_id for s in await again.list_sessions()] == ["s-1"]
            assert await again.items("s-1") == [user("hello"), answer("hi")]

    run(body)


def test_location_is_printable(store: Store) -> None:
    assert isinstance(store.location, str) and store.location


# -- the turn ---------------------------------------------------------------------------------------------


def test_commit_turn_creates_the_session_then_appends(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            before = time.time()
            await store.commit_turn(
                "s-1",
                [user("first question"), REASONING, TOOL_CALL, TOOL_OUTPUT, answer("first answer")],
                record(
                    "model-a",
                    input_tokens=10,
                    output_tokens=5,
                    reasoning_tokens=2,
                    cached_tokens=1,
                    cost=0.5,
                    request_ids=("req-1", "req-2"),
                    duration_ms=1200,
                ),
                title="first question",
                instructions="be brief",
            )
            await store.commit_turn(
                "s-1",
                [user("second"), answer("second answer")],
                record("model-b", input_tokens=20, output_tokens=7, cost=0.25),
                title="ignored: not the first",
            )
            info = await store.get_session("s-1")
            assert info is not None
            assert info.title == "first question" and info.model == "model-b" and info.instructions == "be brief"
            assert (info.turns, info.input_tokens, info.output_tokens, info.cost) == (2, 30, 12, 0.75)
            assert info.created_at >= before - 1 and info.updated_at >= info.created_at
            assert info.short_id == "s-1"[-8:]
            items = await store.items("s-1")
            assert items == [
                user("first question"),
                REASONING,
                TOOL_CALL,
                TOOL_OUTPUT,
                answer("first answer"),
                user("second"),
                answer("second answer"),
            ]  # verbatim, in order
            first, second = await store.turns("s-1")
            assert (first.model, first.input_tokens, first.output_tokens, first.reasoning_tokens) == (
                "model-a",
                10,
                5,
                2,
            )
            assert (first.cached_tokens, first.cost, first.request_ids, first.duration_ms) == (
                1,
                0.5,
                ("req-1", "req-2"),
                1200,
            )
            assert first.created_at > 0 and second.model == "model-b" and second.request_ids == ()

    run(body)


def test_replace_from_swaps_the_last_exchange_atomically(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            await turn(store, "s", "one", "1", input_tokens=1)
            await turn(store, "s", "two", "2", input_tokens=2)
            await store.commit_turn(
                "s", [user("two"), answer("2 again")], record(input_tokens=3), title="x", replace_from=2
            )
            assert await store.items("s") == [user("one"), answer("1"), user("two"), answer("2 again")]
            assert [t.input_tokens for t in await store.turns("s")] == [1, 3]

    run(body)


def test_a_replaced_answer_still_counts_in_the_spend(store: Store) -> None:
    """/retry replaces the answer, not what it cost: both attempts were paid for, so the session's cost and the
    period spend the caps count keep both (else retrying spends without limit under a cap)."""

    async def body() -> None:
        async with opened(store):
            await turn(store, "s", "one", "1", cost=0.25)
            await store.commit_turn("s", [user("one"), answer("1 again")], record(cost=0.5), title="x", replace_from=0)
            await store.commit_turn("s", [user("one"), answer("1 once more")], record(), title="x", replace_from=0)
            assert [t.cost for t in await store.turns("s")] == [0.75]  # one turn, every attempt's cost
            info = await store.get_session("s")
            assert info is not None and info.cost == 0.75
            assert sum(row.cost for row in await store.spend(0)) == 0.75

    run(body)


def test_a_commit_that_fails_leaves_the_session_as_it_was(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            await turn(store, "s", "one", "1")
            with pytest.raises(TypeError):  # not JSON: the transaction is rolled back whole
                await store.commit_turn("s", [user("two"), {"bad": object()}], record(), title="x")
            with pytest.raises(TypeError):
                await store.commit_turn("new", [user("two"), {"bad": object()}], record(), title="x")
            assert await store.items("s") == [user("one"), answer("1")]
            assert len(await store.turns("s")) == 1
            assert await store.get_session("new") is None and await store.items("new") == []

    run(body)


def test_the_sdk_session_reads_what_was_committed(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            await store.commit_turn("s", [user("こんにちは"), REASONING, answer("やあ")], record(), title="x")
            sdk = sdk_session(store, "s")
            try:
                assert await sdk.get_items() == [user("こんにちは"), REASONING, answer("やあ")]
            finally:
                close = getattr(sdk, "close", None)
                if close is not None:
                    result = close()
                    if asyncio.iscoroutine(result):
                        await result

    run(body)


def test_lock_serialises_one_session_and_not_others(new_store: StoreFactory) -> None:
    async def body() -> None:
        async with opened(new_store()) as a, opened(new_store()) as b:
            waits: list[str] = []
            async with a.lock("s"):
                async with b.lock("other", lambda: waits.append("other"), timeout=5):
                    pass  # another session is not blocked
                with pytest.raises(KaiwaError, match="busy"):
                    async with b.lock("s", lambda: waits.append("s"), timeout=0.5):
                        pytest.fail("two holders of one session's lock")
            assert waits == ["s"]  # told once that it waits
            async with b.lock("s", timeout=1):  # released with its holder
                pass

    run(body)


def test_a_waiting_turn_goes_on_when_the_holder_finishes(new_store: StoreFactory) -> None:
    async def body() -> None:
        order: list[str] = []
        async with opened(new_store()) as a, opened(new_store()) as b:

            async def first() -> None:
                async with a.lock("s"):
                    order.append("a in")
                    await asyncio.sleep(0.4)
                    order.append("a out")

            async def second() -> None:
                await asyncio.sleep(0.1)
                async with b.lock("s", lambda: order.append("b waits"), timeout=10):
                    order.append("b in")

            await asyncio.gather(first(), second())
        assert order == ["a in", "b waits", "a out", "b in"]

    run(body)


# -- reading ------------------------------------------------------------------------------------------------


def test_list_get_and_find(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            ids = [
                "0190aaaa-0000-7000-8000-00000000a001",
                "0190bbbb-0000-7000-8000-00000000b002",
                "0190cccc-0000-7000-8000-00000000C003",
            ]
            for sid in ids:
                await turn(store, sid, f"question {sid[-4:]}", "answer")
                await asyncio.sleep(0.01)
            listed = await store.list_sessions()
            assert [s.session_id for s in listed] == ids[::-1]  # most recently used first
            assert [s.session_id for s in await store.list_sessions(limit=2)] == ids[:0:-1]
            await turn(store, ids[0], "again", "answer")
            assert (await store.list_sessions(limit=1))[0].session_id == ids[0]
            assert await store.get_session("nope") is None
            assert [s.session_id for s in await store.find_sessions("B002")] == [ids[1]]
            assert [s.session_id for s in await store.find_sessions("c003")] == [ids[2]]  # case-insensitive
            assert {s.session_id for s in await store.find_sessions("0190")} == set(ids)
            assert len(await store.find_sessions("0190", limit=2)) == 2
            assert await store.find_sessions("%") == [] and await store.find_sessions("_") == []
            assert await store.items("nope") == [] and await store.turns("nope") == []

    run(body)


def test_search_finds_message_text_in_any_script(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            await turn(store, "tf", "my Terraform plan fails with a cycle error", "Break the cycle with depends_on")
            await asyncio.sleep(0.01)
            await turn(store, "jp", "今日の天気はどうですか", "東京は晴れです")
            await store.commit_turn("tool", [user("compute"), TOOL_CALL, TOOL_OUTPUT, answer("4")], record(), title="t")
            [hit] = await store.search("terraform")
            assert hit.session.session_id == "tf" and "Terraform" in hit.snippet
            assert [h.session.session_id for h in await store.search("cycle")] == ["tf"]  # one hit per session
            assert [h.session.session_id for h in await store.search("天気")] == ["jp"]  # no spaces between words
            assert [h.session.session_id for h in await store.search("晴れです")] == ["jp"]  # assistant text too
            assert await store.search("calculate") == []  # tool names are not message text
            assert await store.search("no such words anywhere") == []
            assert await store.search("   ") == []

    run(body)


def test_search_orders_newest_session_first_and_limits(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            for n in range(3):
                await turn(store, f"s{n}", f"kubernetes question {n}", "ok")
                await asyncio.sleep(0.01)
            hits = await store.search("kubernetes")
            assert [h.session.session_id for h in hits] == ["s2", "s1", "s0"]
            assert len(await store.search("kubernetes", limit=2)) == 2

    run(body)


def test_search_follows_truncate_and_delete(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            await turn(store, "s", "about zebras", "stripes")
            await turn(store, "s", "about giraffes", "necks")
            assert len(await store.search("giraffes")) == 1
            await store.truncate("s", keep_items=2, keep_turns=1)  # /undo
            assert await store.search("giraffes") == []
            assert len(await store.search("zebras")) == 1
            await store.commit_turn("s", [user("about okapis"), answer("shy")], record(), title="x", replace_from=2)
            assert len(await store.search("okapis")) == 1
            await store.delete(["s"])
            assert await store.search("zebras") == [] and await store.search("okapis") == []

    run(body)


# -- managing sessions --------------------------------------------------------------------------------------


def test_create_session_stores_a_whole_dump_and_refuses_a_taken_id(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            info = SessionInfo(
                "imp", 1000.0, 2000.0, "model-x", "imported title", instructions="speak Japanese", origin="imported"
            )
            turns = [record("model-x", input_tokens=5, cost=0.1, created_at=1500.0, request_ids=("r",))]
            await store.create_session(SessionDump(info, [user("quokka facts"), REASONING, answer("a")], turns))
            got = await store.get_session("imp")
            assert got is not None
            assert (got.created_at, got.updated_at, got.model, got.title) == (
                1000.0,
                2000.0,
                "model-x",
                "imported title",
            )
            assert (got.instructions, got.origin, got.turns, got.input_tokens) == ("speak Japanese", "imported", 1, 5)
            assert await store.items("imp") == [user("quokka facts"), REASONING, answer("a")]
            assert await store.turns("imp") == turns
            assert [h.session.session_id for h in await store.search("quokka")] == ["imp"]  # indexed too
            with pytest.raises(KaiwaError, match="exists"):
                await store.create_session(SessionDump(info, [user("other")], []))
            assert await store.items("imp") == [user("quokka facts"), REASONING, answer("a")]
            await turn(store, "imp", "continue", "continued")  # an imported session continues like any other
            assert len(await store.items("imp")) == 5

    run(body)


def test_rename_and_instructions(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            await turn(store, "s", "hello", "hi")
            await store.rename("s", "新しい題名")
            await store.set_instructions("s", "answer in haiku")
            info = await store.get_session("s")
            assert info is not None and (info.title, info.instructions) == ("新しい題名", "answer in haiku")
            await store.set_instructions("s", None)
            info = await store.get_session("s")
            assert info is not None and info.instructions is None
            with pytest.raises(KaiwaError, match="no session"):
                await store.rename("missing", "x")

    run(body)


def test_truncate_keeps_the_first_items_and_turns(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            for n in range(3):
                await turn(store, "s", f"q{n}", f"a{n}", input_tokens=n)
            await store.truncate("s", keep_items=4, keep_turns=2)
            assert await store.items("s") == [user("q0"), answer("a0"), user("q1"), answer("a1")]
            assert [t.input_tokens for t in await store.turns("s")] == [0, 1]
            info = await store.get_session("s")
            assert info is not None and info.turns == 2

    run(body)


def test_delete_removes_everything_and_counts(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            for sid in ("a", "b", "c"):
                await turn(store, sid, f"hello {sid}", "hi")
            assert await store.delete(["a", "b", "missing"]) == 2
            assert [s.session_id for s in await store.list_sessions()] == ["c"]
            for sid in ("a", "b"):
                assert await store.get_session(sid) is None
                assert await store.items(sid) == [] and await store.turns(sid) == []
            assert await store.delete([]) == 0
            await turn(store, "a", "a new life", "hi")  # the id can be used again
            assert len(await store.items("a")) == 2

    run(body)


# -- schema 3: the session's role, cache writes per turn -----------------------------------------------------


def test_role_is_stored_with_the_first_turn_kept_changed_and_cleared(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            await store.commit_turn("r", [user("hi"), answer("hello")], record(), title="hi", role="reviewer")
            info = await store.get_session("r")
            assert info is not None and info.role == "reviewer"
            await turn(store, "r", "more", "ok")  # a turn naming no role leaves the session's role
            assert [s.role for s in await store.list_sessions()] == ["reviewer"]
            await store.commit_turn("r", [user("now"), answer("ok")], record(), title="x", role="translator")
            assert [s.role for s in await store.find_sessions("r")] == ["translator"]
            await store.set_role("r", None)
            info = await store.get_session("r")
            assert info is not None and info.role is None and info.turns == 3
            await store.set_role("r", "reviewer")
            assert [h.session.role for h in await store.search("hello")] == ["reviewer"]
            await turn(store, "plain", "no role here", "fine")
            plain = await store.get_session("plain")
            assert plain is not None and plain.role is None
            with pytest.raises(KaiwaError, match="no session"):
                await store.set_role("missing", "reviewer")
            assert await store.get_session("missing") is None

    run(body)


def test_cache_write_tokens_are_kept_per_turn(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            await turn(store, "c", "long system prompt", "ok", cached_tokens=0, cache_write_tokens=1800)
            await turn(store, "c", "again", "ok", cached_tokens=1800, cache_write_tokens=0)
            await store.commit_turn(
                "c", [user("again"), answer("ok!")], record(cache_write_tokens=7), title="x", replace_from=2
            )
            assert [(t.cached_tokens, t.cache_write_tokens) for t in await store.turns("c")] == [(0, 1800), (0, 7)]

    run(body)


def test_how_a_turn_went_is_kept_per_turn(store: Store) -> None:
    """`attempts` (a stream broke off and was tried again) and `outcome` (cut at the output limit, or failed after
    its tools ran), kept per turn and replaced with the turn (`/retry`, continuing a failed turn)."""

    async def body() -> None:
        async with opened(store):
            await turn(store, "h", "first", "whole")
            await store.commit_turn("h", [user("cut"), answer("par")], record(attempts=3, outcome="length"), title="x")
            assert [(t.attempts, t.outcome) for t in await store.turns("h")] == [(1, ""), (3, "length")]
            await store.commit_turn(
                "h", [user("cut"), answer("part two")], record(attempts=2, outcome="failed"), title="x", replace_from=2
            )
            assert [(t.attempts, t.outcome) for t in await store.turns("h")] == [(1, ""), (2, "failed")]

    run(body)


def test_create_session_carries_the_role_and_cache_writes(store: Store) -> None:
    async def body() -> None:
        async with opened(store):
            info = SessionInfo("imp3", 1000.0, 2000.0, "model-x", "t", origin="imported", role="reviewer")
            turns = [record("model-x", cached_tokens=3, cache_write_tokens=900, created_at=1500.0)]
            await store.create_session(SessionDump(info, [user("q"), answer("a")], turns))
            got = await store.get_session("imp3")
            assert got is not None and got.role == "reviewer"
            assert await store.turns("imp3") == turns

    run(body)


def test_compactions_stack_undo_and_go_with_the_session(store: Store) -> None:
    import json

    from kaiwa.store import dump as dumps
    from kaiwa.store.base import Compaction

    async def body() -> None:
        async with opened(store):
            for n in range(3):
                await turn(store, "s", f"q{n}", f"a{n}")
            assert await store.compaction("s") is None
            first = Compaction([user("summary one")], 2, 900, 300, 0.001, 1.0)
            second = Compaction([user("summary two")], 4, 950, 310, None, 2.0)
            await store.add_compaction("s", first)
            await store.add_compaction("s", second)
            assert await store.compaction("s") == second  # the newest applies
            assert len(await store.items("s")) == 6  # the transcript is untouched
            assert await store.drop_compaction("s") is True
            assert await store.compaction("s") == first  # undone: the one before applies again
            info = await store.get_session("s")
            assert info is not None
            copied = dumps.copy(await dumps.load(store, info), "copy")  # under a UUID, as an export needs
            exported = dumps.from_json(json.loads(dumps.dumps(copied)))
            assert exported.compaction == first  # export and import carry it
            await store.create_session(exported)
            assert await store.compaction(exported.info.session_id) == first
            await store.delete(["s"])
            assert await store.compaction("s") is None and await store.drop_compaction("s") is False

    run(body)


def test_an_in_place_compaction_counts_in_the_spend(store: Store) -> None:
    """A compaction's summary call was paid for: the period spend (the caps, `usage`) counts it, under the name
    "compaction", as spent by whoever's key paid for the session's turns."""

    async def body() -> None:
        async with opened(store):
            await store.commit_turn("s", [user("one"), answer("1")], record(cost=0.25, spender="key:a"), title="x")
            await store.add_compaction("s", Compaction([answer("summary")], 0, 100, 10, cost=0.125))
            spent = {row.model: (row.cost, row.turns) for row in await store.spend(0)}
            assert spent["compaction"] == (0.125, 1)
            mine = {row.model: row.cost for row in await store.spend(0, "key:a")}
            assert mine.get("compaction") == 0.125 and sum(mine.values()) == 0.375
            assert await store.spend(0, "key:b") == []

    run(body)
