"""kaiwa on a shared Postgres, end to end: chat.py as a subprocess through the REAL LiteLLM proxy, SESSION_DB_URL
pointing at the run's real Postgres server, and two "machines" (two homes, two environments) on one database."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kaiwa.store.postgres import PostgresStore
from tests.conftest import Kaiwa, Run
from tests.harness.bodies import said
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply


def machine(home: Path, proxy: Any, url: str) -> Kaiwa:
    home.mkdir(parents=True, exist_ok=True)
    return Kaiwa(
        home,
        {
            "LITELLM_BASE_URL": proxy.base_url,
            "LITELLM_API_KEY": proxy.master_key,
            "LITELLM_MODEL": "fake-a",
            "SESSION_DB_URL": url,
        },
    )


@pytest.fixture
def alice(tmp_path: Path, proxy: Any, pg_url: str) -> Kaiwa:
    return machine(tmp_path / "alice", proxy, pg_url)


@pytest.fixture
def bob(tmp_path: Path, proxy: Any, pg_url: str) -> Kaiwa:
    return machine(tmp_path / "bob", proxy, pg_url)


def stored(url: str, session_id: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        store = PostgresStore(url)
        await store.open()
        try:
            return await store.items(session_id)
        finally:
            await store.close()

    return asyncio.run(read())


def upstream_said(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (m["role"], m["content"] if isinstance(m["content"], str) else m["content"][0]["text"])
        for m in body["messages"]
        if m["role"] != "system"
    ]


def no_secret(password: str, *runs: Run) -> None:
    for run in runs:
        assert password not in run.out and password not in run.err


def wait_for_stdout(proc: subprocess.Popen[str], within: float = 90) -> bytes:
    assert proc.stdout is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout.fileno()], [], [], 0.05)
        if ready:
            return os.read(proc.stdout.fileno(), 4096)
    raise AssertionError("the answer never started")


def test_one_shot_resume_and_list_across_two_machines(
    alice: Kaiwa, bob: Kaiwa, upstream: OpenAIChatStandIn, postgres: Any, pg_url: str
) -> None:
    upstream.script(Reply(text="first answer"), Reply(text="second answer"))
    first = alice("--input", "one")
    assert first.code == 0, first.err
    sid = first.session_id
    assert sid and first.out == "first answer\n"
    assert not alice.db.exists()  # nothing went to SQLite

    second = bob("--input", "two", "--session-id", sid)  # another machine continues it
    assert second.code == 0, second.err
    assert upstream_said(upstream.model_requests()[-1].body) == [
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
    ]
    assert said(stored(pg_url, sid)) == [
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
        ("assistant", "second answer"),
    ]
    listed = alice("sessions")
    assert listed.code == 0 and sid[-8:] in listed.out and "one" in listed.out
    no_secret(postgres.password, first, second, listed)


def test_two_machines_on_one_session_take_turns(
    alice: Kaiwa, bob: Kaiwa, upstream: OpenAIChatStandIn, pg_url: str
) -> None:
    """Both start at once; each answer streams for about 15 s, far longer than the two start-ups differ, so the
    second to reach the session's lock finds it held (and says so), then goes on with the first's turn stored."""
    upstream.script(Reply(text="zero"))
    sid = alice("--input", "start").session_id
    assert sid
    slow = "a slow answer " * 10
    upstream.script(Reply(text=slow, chunks=20, chunk_delay=0.75), Reply(text=slow, chunks=20, chunk_delay=0.75))
    procs = {
        "alice": alice.start("--input", "from alice", "--session-id", sid),
        "bob": bob.start("--input", "from bob", "--session-id", sid),
    }
    runs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        runs[name] = Run(proc.returncode, out, err)
    assert all(r.code == 0 for r in runs.values()), {n: r.err for n, r in runs.items()}
    waited = [n for n, r in runs.items() if "waiting: another kaiwa process is in a turn on session" in r.err]
    assert len(waited) == 1, {n: r.err for n, r in runs.items()}
    second = waited[0]
    first = "bob" if second == "alice" else "alice"
    # The second turn began after the first was stored: its model call carried it; nothing interleaved.
    requests = [r.body for r in upstream.model_requests()]
    last = upstream_said(requests[-1])
    assert last[-3] == ("user", f"from {first}") and last[-1] == ("user", f"from {second}")
    assert last[-2][0] == "assistant" and last[-2][1].startswith("a slow answer")
    history = said(stored(pg_url, sid))
    assert [role for role, _ in history] == ["user", "assistant"] * 3
    assert [t for r, t in history if r == "user"] == ["start", f"from {first}", f"from {second}"]


def test_a_turn_killed_mid_answer_leaves_the_session_as_it_was(
    alice: Kaiwa, bob: Kaiwa, upstream: OpenAIChatStandIn, pg_url: str
) -> None:
    upstream.script(Reply(text="zero"))
    sid = alice("--input", "start").session_id
    assert sid
    before = stored(pg_url, sid)
    upstream.script(Reply(text="word " * 80, chunks=80, chunk_delay=0.2))
    proc = alice.start("--input", "a long story please", "--session-id", sid)
    try:
        wait_for_stdout(proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    assert stored(pg_url, sid) == before  # nothing of the killed turn was written

    upstream.script(Reply(text="short story"))
    again = bob("--input", "a long story please", "--session-id", sid)  # the dead turn's lock died with it
    assert again.code == 0, again.err
    assert "waiting" not in again.err
    assert upstream_said(upstream.model_requests()[-1].body) == [
        ("user", "start"),
        ("assistant", "zero"),
        ("user", "a long story please"),
    ]


@pytest.mark.parametrize("what", ["bad password", "unreachable", "missing database"])
def test_database_failures_are_one_line_and_keep_the_users_text(
    what: str, tmp_path: Path, proxy: Any, postgres: Any, upstream: OpenAIChatStandIn
) -> None:
    from tests.harness.ports import free_port

    url = {
        "bad password": postgres.url_for(password="Not-the-pw-42"),
        "unreachable": postgres.url_for(port=free_port()),
        "missing database": postgres.url_for("no_such_db"),
    }[what]
    run = machine(tmp_path / "m", proxy, url)("--input", "please keep this text")
    assert run.code == 1 and run.out == ""
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in run.err
    assert {
        "bad password": "authentication failed",
        "unreachable": "cannot reach",
        "missing database": "does not exist",
    }[what] in errors[0]
    assert "please keep this text" in run.err
    assert upstream.model_requests() == []  # nothing was sent
    no_secret(postgres.password, run)
    assert "Not-the-pw-42" not in run.err


def test_a_repl_turn_on_postgres_and_a_colleague_resumes_it(
    alice: Kaiwa, bob: Kaiwa, upstream: OpenAIChatStandIn, postgres: Any, pg_url: str
) -> None:
    from tests.harness.term import Term, session_id_in

    upstream.script(Reply(text="first answer"), Reply(text="second answer"), Reply(text="bob's answer"))
    term = Term(alice)
    try:
        term.ready()
        assert "first answer" in term.turn("one")
        assert "second answer" in term.turn("two")
        term.mark()
        term.ctrl("d")
        assert term.exit_status() == 0
        sid = session_id_in(term.since_mark())
        screen = term.text
    finally:
        term.close()
    assert sid is not None and postgres.password not in screen
    assert said(stored(pg_url, sid)) == [
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
        ("assistant", "second answer"),
    ]
    again = Term(bob, "--session-id", sid)  # another machine picks it up interactively
    try:
        again.ready()
        assert "bob's answer" in again.turn("three")
        again.ctrl("d")
        assert again.exit_status() == 0
    finally:
        again.close()
    assert upstream_said(upstream.model_requests()[-1].body)[-3:] == [
        ("user", "two"),
        ("assistant", "second answer"),
        ("user", "three"),
    ]
    assert len(stored(pg_url, sid)) == 6


def test_every_sessions_subcommand_on_postgres_across_two_machines(
    alice: Kaiwa, bob: Kaiwa, upstream: OpenAIChatStandIn, postgres: Any, pg_url: str
) -> None:
    import json

    runs: list[Run] = []

    def ok(k: Kaiwa, *args: str, **env: str) -> Run:
        run = k(*args, **env)
        runs.append(run)
        assert run.code == 0, (args, run.err)
        return run

    upstream.script(Reply(text="Run terraform force-unlock with the lock id."))
    sid = ok(alice, "--input", "my terraform state is locked (東京チーム)").session_id
    assert sid
    short = sid[-8:]

    listed = json.loads(ok(bob, "sessions", "--json").out)  # list, from the other machine
    assert [s["id"] for s in listed] == [sid] and listed[0]["turns"] == 1
    assert ok(bob, "sessions", "list").out.startswith(f"{sid}\t")
    shown = json.loads(ok(bob, "sessions", "show", short, "--json").out)
    assert [m["text"] for m in shown["messages"]] == [
        "my terraform state is locked (東京チーム)",
        "Run terraform force-unlock with the lock id.",
    ]
    hits = json.loads(ok(bob, "sessions", "search", "terraform", "--json").out)
    assert [h["id"] for h in hits] == [sid] and "terraform" in hits[0]["snippet"].lower()
    assert [h["id"] for h in json.loads(ok(bob, "sessions", "search", "東京", "--json").out)] == [sid]

    ok(bob, "sessions", "rename", short, "state lock")
    assert json.loads(ok(alice, "sessions", "--json").out)[0]["title"] == "state lock"

    fork = ok(bob, "sessions", "fork", short).session_id
    assert fork and fork != sid
    upstream.script(Reply(text="on the fork"))
    ok(bob, "--input", "continue on my copy", "--session-id", fork)
    assert len(stored(pg_url, sid)) == 2 and len(stored(pg_url, fork)) == 4

    export = alice.home / "lock.json"
    ok(alice, "sessions", "export", sid, "--format", "json", "-o", str(export))
    deleted = ok(alice, "sessions", "delete", sid, "--yes")
    assert stored(pg_url, sid) == [] and "deleted 1 session" in deleted.err
    assert ok(bob, "sessions", "import", str(export)).session_id == sid  # bob restores alice's export
    assert len(stored(pg_url, sid)) == 2

    upstream.script(Reply(text="We unlocked the Terraform state held by a crashed run."))
    compacted = ok(alice, "sessions", "compact", short)
    new = compacted.session_id
    assert new and json.loads(ok(bob, "sessions", "show", new, "--json").out)["origin"] == f"compacted from {sid}"

    # Bob's own SQLite conversations join the team's database.
    upstream.script(Reply(text="local answer"))
    local = ok(bob, "--input", "a conversation on my laptop", SESSION_DB_URL="").session_id
    assert local and bob.db.exists()
    first = ok(bob, "sessions", "migrate")
    assert "copied 1 session (2 items, 1 turn)" in first.out and "postgresql://kaiwa:***@127.0.0.1" in first.out
    again = ok(bob, "sessions", "migrate")
    assert "copied 0 sessions" in again.out and "1 already there" in again.out
    assert len(stored(pg_url, local)) == 2

    for run in runs:
        assert postgres.password not in run.out + run.err
