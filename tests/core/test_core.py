"""The core through a REAL LiteLLM proxy: chat.py as a subprocess, a scripted OpenAI-compatible upstream."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest

from tests.conftest import Kaiwa
from tests.harness.asserts import assert_one_line_failure
from tests.harness.bodies import user_texts
from tests.harness.db import stored_items
from tests.harness.ports import free_port
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply


def test_one_shot_streams_the_answer_and_prints_a_uuid7(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="こんにちは！お元気ですか。", chunks=5))
    run = kaiwa("--input", "こんにちは")
    assert run.code == 0, run.err
    assert run.out == "こんにちは！お元気ですか。\n"  # piped: nothing but the answer
    assert run.session_id is not None and uuid.UUID(run.session_id).version == 7
    assert "SESSION_ID" not in run.out
    [request] = upstream.model_requests()
    assert request.body["stream"] is True
    assert user_texts(request.body) == ["こんにちは"]
    items = stored_items(kaiwa.db, run.session_id)
    assert [i.get("role") for i in items] == ["user", "assistant"]


def test_resume_sends_the_whole_history(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="first answer"), Reply(text="second answer"), Reply(text="third answer"))
    first = kaiwa("--input", "one")
    sid = first.session_id
    assert sid
    second = kaiwa("--input", "two", "--session-id", sid)
    third = kaiwa("--input", "three", "--session-id", sid)
    assert (second.code, third.code) == (0, 0), second.err + third.err
    assert third.session_id == sid and third.out == "third answer\n"
    last = upstream.model_requests()[-1].body["messages"]
    said = [
        (m["role"], m["content"] if isinstance(m["content"], str) else m["content"][0]["text"])
        for m in last
        if m["role"] != "system"
    ]
    assert said == [
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
        ("assistant", "second answer"),
        ("user", "three"),
    ]


def test_model_switch_and_default_from_env(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    first = kaiwa("--input", "hi")
    switched = kaiwa("--input", "hi again", "--session-id", first.session_id or "", "--model", "fake-b")
    by_env = kaiwa("--input", "env default", LITELLM_MODEL="fake-b")
    assert (first.code, switched.code, by_env.code) == (0, 0, 0), switched.err
    models = [r.body["model"] for r in upstream.model_requests()]
    assert models == ["fake-a-upstream", "fake-b-upstream", "fake-b-upstream"]
    assert "fake-b" in switched.err  # the usage line names the model that answered


def test_usage_line_reports_what_the_upstream_counted(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="ok", input_tokens=123, output_tokens=45))
    run = kaiwa("--input", "count me")
    assert run.code == 0, run.err
    assert "123 in" in run.err and "45 out" in run.err
    with sqlite3.connect(kaiwa.db) as conn:
        row = conn.execute("SELECT input_tokens, output_tokens, request_ids FROM kaiwa_turns").fetchone()
    assert row[:2] == (123, 45) and row[2]


# -- failures: one line, a non-zero exit, no traceback, nothing saved, the text shown back ------------------


def test_proxy_not_reachable(kaiwa: Kaiwa) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    run = kaiwa("--input", "hello there", LITELLM_BASE_URL=url)
    assert_one_line_failure(run, 1, "cannot reach", url)
    assert "hello there" in run.err  # the text is not lost
    assert (
        not Path(kaiwa.db).exists()
        or not sqlite3.connect(kaiwa.db).execute("SELECT COUNT(*) FROM kaiwa_sessions").fetchone()[0]
    )


def test_wrong_key(kaiwa: Kaiwa) -> None:
    run = kaiwa("--input", "hi", LITELLM_API_KEY="sk-wrong-key-123456")
    assert_one_line_failure(run, 1, "rejected the API key", "LITELLM_API_KEY")
    assert "sk-wrong-key-123456" not in run.err


def test_unknown_alias_names_the_offered_ones(kaiwa: Kaiwa) -> None:
    run = kaiwa("--input", "hi", "--model", "no-such-model")
    assert_one_line_failure(run, 1, "no-such-model", "fake-a", "fake-b")


@pytest.mark.parametrize(
    ("status", "needle"), [(429, "rate-limited"), (500, "failed upstream"), (503, "failed upstream")]
)
def test_upstream_errors_after_retries(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, status: int, needle: str) -> None:
    upstream.script(*[Reply(status=status, error_message="busy")] * 12)
    run = kaiwa("--input", "hi")
    assert_one_line_failure(run, 1, needle)
    attempts = len(upstream.model_requests())
    assert 1 <= attempts <= 4, f"{attempts} upstream attempts: retries stack"


def test_timeout(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(*[Reply(delay=4)] * 4)
    run = kaiwa("--input", "slow please", KAIWA_TIMEOUT="1", KAIWA_MAX_RETRIES="0")
    assert_one_line_failure(run, 1, "did not answer within 1 s")


class CuttingRelay:
    """A loopback TCP relay in front of the proxy that drops the connection once the answer has begun:
    what a network cut or a dying proxy looks like to kaiwa."""

    def __init__(self, target_port: int, cut_marker: bytes = b"output_text.delta") -> None:
        self.target_port = target_port
        self.cut_marker = cut_marker
        self.cuts = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))

        def forward_requests() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    upstream.sendall(data)

        threading.Thread(target=forward_requests, daemon=True).start()
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                if self.cut_marker in data:
                    client.sendall(data[: data.index(self.cut_marker) + 200])
                    self.cuts += 1
                    break
                client.sendall(data)
        for s in (client, upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()


def test_stream_cut_midway_leaves_the_session_as_it_was(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, proxy) -> None:  # type: ignore[no-untyped-def]
    upstream.script(Reply(text="the first answer"))
    sid = kaiwa("--input", "one").session_id
    assert sid
    before = stored_items(kaiwa.db, sid)
    relay = CuttingRelay(int(proxy.base_url.rsplit(":", 1)[1].split("/")[0]))
    try:
        upstream.script(Reply(text="a long answer that breaks off", chunks=8, chunk_delay=0.05))
        run = kaiwa(
            "--input",
            "two",
            "--session-id",
            sid,
            KAIWA_MAX_RETRIES="0",
            LITELLM_BASE_URL=f"http://127.0.0.1:{relay.port}/v1",
        )
    finally:
        relay.close()
    assert relay.cuts == 1
    assert run.code == 1 and "Traceback" not in run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broke off" in errors[0], run.err
    assert "two" in run.err
    assert stored_items(kaiwa.db, sid) == before
    upstream.script(Reply(text="recovered"))
    again = kaiwa("--input", "two", "--session-id", sid)
    assert again.code == 0 and again.out == "recovered\n"
    assert user_texts(upstream.model_requests()[-1].body) == ["one", "two"]  # sent exactly once


def test_failed_resumed_turn_is_rolled_back_and_sent_once_on_retry(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "one").session_id
    assert sid
    before = stored_items(kaiwa.db, sid)
    upstream.script(*[Reply(status=500)] * 12)
    assert kaiwa("--input", "two", "--session-id", sid).code == 1
    assert stored_items(kaiwa.db, sid) == before
    upstream.reset()
    assert kaiwa("--input", "two", "--session-id", sid).code == 0
    assert user_texts(upstream.model_requests()[-1].body) == ["one", "two"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--input", ""], 2, "empty"),
        (["--input", "   "], 2, "empty"),
        (["--input", "hi", "--session-id", "nope"], 2, "too short"),
        (["--input", "hi", "--session-id", "0190a000-0000-7000-8000-000000000000"], 2, "no session"),
        (["--input", "hi", "--reasoning", "extreme"], 2, "--reasoning"),
    ],
)
def test_input_and_id_errors(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, args: list[str], code: int, needle: str
) -> None:
    run = kaiwa(*args)
    assert_one_line_failure(run, code, needle)
    assert upstream.model_requests() == []


def test_mistyped_session_id_never_starts_an_empty_conversation(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "one").session_id
    assert sid
    wrong = sid[:-1] + ("0" if sid[-1] != "0" else "1")
    run = kaiwa("--input", "two", "--session-id", wrong)
    assert_one_line_failure(run, 2, "no session")  # bad input, as README says
    with sqlite3.connect(kaiwa.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM agent_sessions").fetchone() == (1,)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing" / "db.sqlite3", "does not exist"),
        (lambda d: (d / "text.sqlite3").write_text("hello") and d / "text.sqlite3", "not an SQLite database"),
        (lambda d: "~/nowhere/db.sqlite3", "does not exist"),
    ],
)
def test_bad_database_paths(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, make, needle: str) -> None:  # type: ignore[no-untyped-def]
    run = kaiwa("--input", "hi", SESSION_DB_PATH=str(make(kaiwa.home)))
    assert_one_line_failure(run, 1, needle, "SESSION_DB_PATH")
    assert upstream.model_requests() == []


def test_debug_shows_the_traceback(kaiwa: Kaiwa) -> None:
    run = kaiwa("--input", "hi", "--debug", LITELLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    assert run.code == 1 and "Traceback" in run.err


def test_ctrl_c_mid_stream_exits_130_and_the_session_resumes(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "one").session_id
    assert sid
    before = stored_items(kaiwa.db, sid)
    upstream.script(Reply(text="word " * 60, chunks=60, chunk_delay=0.2))
    proc = kaiwa.start("--input", "tell me a long story", "--session-id", sid)
    run = Kaiwa.interrupt(proc, after_stdout_bytes=5)
    assert run.code == 130, run.err
    assert "Traceback" not in run.err and "tell me a long story" in run.err
    assert run.out.startswith("word")
    assert stored_items(kaiwa.db, sid) == before
    upstream.script(Reply(text="short story"))
    again = kaiwa("--input", "tell me a long story", "--session-id", sid)
    assert again.code == 0 and again.out == "short story\n"
    assert user_texts(upstream.model_requests()[-1].body) == ["one", "tell me a long story"]


def test_stdin_is_read_when_piped(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    run = kaiwa(stdin="from a pipe\n")
    assert run.code == 0, run.err
    assert user_texts(upstream.model_requests()[0].body) == ["from a pipe\n"]


def test_sessions_lists_what_was_stored(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "a question worth a title").session_id
    run = kaiwa("sessions")
    assert run.code == 0 and sid in run.out and "a question worth a title" in run.out


def test_the_engine_keeps_the_answer_as_sent_while_faces_show_it_harmlessly(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    """The answer is the engine's (it never reads it back from a face): stored and in `done` byte for byte,
    while the terminal face shows control characters as symbols."""
    said = "ok \x1b]0;pwned\x07 cr\rOVER done"
    upstream.script(Reply(text=said, chunks=4), Reply(text=said, chunks=4))
    piped = kaiwa("--input", "hi")
    assert piped.code == 0, piped.err
    assert "\x1b" not in piped.out and "\x07" not in piped.out and "␛]0;pwned␇" in piped.out
    [_, answer] = stored_items(kaiwa.db, piped.session_id or "")
    assert answer["content"][0]["text"] == said
    lines = kaiwa("--json", "--input", "hi")
    assert lines.code == 0, lines.err
    done = [json.loads(line) for line in lines.out.splitlines()][-1]
    assert done["type"] == "done" and done["text"] == said
