"""`sessions migrate`: every SQLite session (items verbatim, metadata, per-turn usage) into a real Postgres, and
nothing twice however often it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kaiwa.store.base import SessionDump, SessionInfo, Store, TurnRecord
from kaiwa.store.migrate import migrate
from kaiwa.store.postgres import PostgresStore
from kaiwa.store.sqlite import SQLiteStore

REASONING = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "gAAAA-opaque"}
CALL = {"type": "function_call", "call_id": "c1", "name": "calculate", "arguments": '{"expr": "6*7"}'}
OUTPUT = {"type": "function_call_output", "call_id": "c1", "output": "42"}


def answer(text: str) -> dict[str, object]:
    return {
        "id": "msg_" + text,
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


async def fill(sqlite: Store) -> None:
    usage = TurnRecord(model="fake-a", input_tokens=10, output_tokens=5, cost=0.002, request_ids=("req-1",))
    await sqlite.commit_turn(
        "0199d000-0000-7000-8000-000000000001",
        [{"role": "user", "content": "6かける7は?"}, REASONING, CALL, OUTPUT, answer("42です")],
        usage,
        title="6かける7は?",
        instructions="Answer in Japanese.",
    )
    await sqlite.commit_turn(
        "0199d000-0000-7000-8000-000000000001",
        [{"role": "user", "content": "thanks"}, answer("you're welcome")],
        TurnRecord(model="fake-b", input_tokens=20, output_tokens=3, duration_ms=120),
        title="ignored",
    )
    info = SessionInfo("0199d000-0000-7000-8000-000000000002", 1_700_000_000.0, 1_700_000_100.0, "fake-b", "forked")
    await sqlite.create_session(
        SessionDump(
            info=SessionInfo(**{**info.__dict__, "origin": "fork of 0199d000-0000-7000-8000-000000000001"}),
            items=[{"role": "user", "content": "hello"}, answer("hi")],
            turns=[TurnRecord(model="fake-b", input_tokens=1, output_tokens=1, created_at=1_700_000_050.0)],
        )
    )


async def snapshot(store: Store) -> list[tuple[SessionInfo, list[object], list[TurnRecord]]]:
    return [(s, await store.items(s.session_id), await store.turns(s.session_id)) for s in await store.list_sessions()]


def test_migrate_copies_everything_once(tmp_path: Path, pg_url: str) -> None:
    async def main() -> None:
        sqlite, pg = SQLiteStore(tmp_path / "sessions.sqlite3", warn=lambda line: None), PostgresStore(pg_url)
        await sqlite.open()
        await pg.open()
        try:
            await fill(sqlite)
            progress: list[tuple[int, int]] = []
            first = await migrate(sqlite, pg, lambda done, total: progress.append((done, total)))
            assert (first.copied, first.items, first.turns, first.already_there) == (2, 9, 3, 0)
            assert progress == [(1, 2), (2, 2)]
            line = first.line(sqlite.location, pg.location)
            assert line.startswith("copied 2 sessions (9 items, 3 turns) from ")
            before, after = await snapshot(sqlite), await snapshot(pg)
            assert [(i.session_id, i.created_at, i.updated_at, i.model, i.title) for i, _, _ in after] == [
                (i.session_id, i.created_at, i.updated_at, i.model, i.title) for i, _, _ in before
            ]
            assert after == before  # items verbatim, usage per turn, instructions, origin, times

            second = await migrate(sqlite, pg)
            assert (second.copied, second.items, second.already_there, second.changed_since) == (0, 0, 2, [])
            assert "copied 0 sessions" in second.line("a", "b") and "2 already there" in second.line("a", "b")
            assert await snapshot(pg) == after

            # A session continued in SQLite after the copy is not copied twice: it is named instead.
            await sqlite.commit_turn(
                "0199d000-0000-7000-8000-000000000002", [{"role": "user", "content": "more"}], TurnRecord("m"), title=""
            )
            third = await migrate(sqlite, pg)
            assert third.copied == 0 and third.changed_since == ["0199d000-0000-7000-8000-000000000002"]
            assert "1 differ: 00000002" in third.line("a", "b")
            assert len(await pg.items("0199d000-0000-7000-8000-000000000002")) == 2
        finally:
            await sqlite.close()
            await pg.close()

    asyncio.run(main())


def test_an_interrupted_migrate_resumes(tmp_path: Path, pg_url: str) -> None:
    """Each session is one transaction: a run stopped after some sessions leaves whole sessions, and the next
    run copies the rest."""

    async def main() -> None:
        sqlite, pg = SQLiteStore(tmp_path / "sessions.sqlite3", warn=lambda line: None), PostgresStore(pg_url)
        await sqlite.open()
        await pg.open()
        try:
            await fill(sqlite)

            class Stop(Exception):
                pass

            def stop_after_first(done: int, total: int) -> None:
                raise Stop

            with pytest.raises(Stop):
                await migrate(sqlite, pg, stop_after_first)
            assert len(await pg.list_sessions()) == 1
            rest = await migrate(sqlite, pg)
            assert (rest.copied, rest.already_there) == (1, 1)
            assert await snapshot(pg) == await snapshot(sqlite)
        finally:
            await sqlite.close()
            await pg.close()

    asyncio.run(main())


def test_the_command_reports_counts_and_never_the_password(tmp_path: Path, postgres: object, pg_url: str) -> None:
    """Through Typer as a user runs it (registered on `sessions` by kaiwa/cli/__init__.py)."""
    import typer
    from typer.testing import CliRunner

    from kaiwa.cli.migrate import migrate_command

    db = tmp_path / "sessions.sqlite3"

    async def prepare() -> None:
        sqlite = SQLiteStore(db, warn=lambda line: None)
        await sqlite.open()
        try:
            await fill(sqlite)
        finally:
            await sqlite.close()

    asyncio.run(prepare())
    app = typer.Typer()
    app.command("migrate")(migrate_command)
    app.command("other")(lambda: None)  # a group, as `sessions` is
    env = {"SESSION_DB_PATH": str(db), "SESSION_DB_URL": "", "HOME": str(tmp_path), "XDG_CONFIG_HOME": ""}
    runner = CliRunner()
    password = postgres.password  # type: ignore[attr-defined]

    first = runner.invoke(app, ["migrate", "--to", pg_url], env=env)
    assert first.exit_code == 0, first.output
    assert "copied 2 sessions (9 items, 3 turns)" in first.output and "postgresql://kaiwa:***@127.0.0.1" in first.output
    again = runner.invoke(app, ["migrate"], env={**env, "SESSION_DB_URL": pg_url})  # --to defaults to it
    assert again.exit_code == 0 and "copied 0 sessions" in again.output and "2 already there" in again.output
    for result in (first, again):
        assert password not in result.output

    nowhere = runner.invoke(app, ["migrate"], env=env)
    assert nowhere.exit_code == 2 and "--to postgresql://" in nowhere.output
    missing = runner.invoke(app, ["migrate", "--to", pg_url, "--from", str(tmp_path / "nope.sqlite3")], env=env)
    assert missing.exit_code == 1 and "no SQLite store at" in missing.output
    assert not (tmp_path / "nope.sqlite3").exists()
    bad = runner.invoke(app, ["migrate", "--to", pg_url.replace(password, "wrong-pw")], env=env)
    assert bad.exit_code == 1 and "authentication failed" in bad.output and "wrong-pw" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1
