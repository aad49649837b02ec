"""The session store on real SQLite files: path checks, ids, rollback and kaiwa's own tables."""

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from kaiwa.errors import KaiwaError, UsageError
from kaiwa.store.sqlite import Store, TurnRecord, make_title, new_session_id, parse_session_id


def test_new_ids_are_uuid7_and_ordered() -> None:
    a, b = new_session_id(), new_session_id()
    assert uuid.UUID(a).version == 7 and uuid.UUID(b).version == 7
    assert a < b


def test_parse_session_id_canonicalises_and_refuses() -> None:
    sid = new_session_id()
    assert parse_session_id(f"  {sid.upper()} ") == sid
    with pytest.raises(UsageError, match="not a UUID"):
        parse_session_id("not-a-uuid")


def test_title_is_one_short_line() -> None:
    assert make_title("hello\n  world") == "hello world"
    assert len(make_title("x" * 500)) == 60


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(parents=True), "is a folder"),
        (lambda p: (p.parent.mkdir(), p.write_text("not a database, just text")), "not an SQLite database"),
    ],
)
def test_unusable_paths_are_refused(tmp_path: Path, setup, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "sub" / "db.sqlite3"
    setup(path)
    with pytest.raises(KaiwaError, match=message):
        Store(path)


def test_rollback_removes_only_the_failed_turn(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    sid = new_session_id()
    session = store.sdk_session(sid)
    asyncio.run(session.add_items([{"role": "user", "content": "one"}, {"role": "assistant", "content": "1"}]))
    store.record_turn(sid, "one", TurnRecord(model="m", input_tokens=3, output_tokens=1))
    mark = store.message_mark(sid)
    asyncio.run(session.add_items([{"role": "user", "content": "two"}]))
    assert store.rollback_to(sid, mark) == 1
    items = asyncio.run(session.get_items())
    session.close()
    assert [i["content"] for i in items] == ["one", "1"]  # type: ignore[typeddict-item]
    assert store.exists(sid)


def test_rollback_of_a_new_session_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = Store(path)
    sid = new_session_id()
    mark = store.message_mark(sid)
    session = store.sdk_session(sid)
    asyncio.run(session.add_items([{"role": "user", "content": "hi"}]))
    session.close()
    store.rollback_to(sid, mark)
    assert not store.exists(sid)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM agent_sessions WHERE session_id=?", (sid,)).fetchone() == (0,)


def test_turns_are_summed_per_session(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    sid = new_session_id()
    store.record_turn(sid, "first question", TurnRecord(model="a", input_tokens=10, output_tokens=5, cost=0.5))
    store.record_turn(sid, "second", TurnRecord(model="b", input_tokens=20, output_tokens=7, cost=0.25))
    info = store.session(sid)
    assert info is not None
    assert (info.turns, info.input_tokens, info.output_tokens, info.cost) == (2, 30, 12, 0.75)
    assert info.title == "first question" and info.model == "b"
