"""The REPL's input line and / commands without a model: prompt_toolkit's pipe input, a real SQLite store,
and a rich Console writing to a StringIO."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from kaiwa.core.conversation import Conversation
from kaiwa.core.events import ignore
from kaiwa.core.history import last_user_index
from kaiwa.core.options import EngineConfig, Setup
from kaiwa.settings import Settings, load_settings
from kaiwa.store.base import SessionDump, SessionInfo, TurnRecord
from kaiwa.ui.clipboard import osc52
from kaiwa.ui.face import Face
from kaiwa.ui.repl import app as repl_app
from kaiwa.ui.repl import registry
from kaiwa.ui.repl.input import ReplCompleter, history_path, make_session
from kaiwa.ui.repl.registry import COMMANDS, EXIT, dispatch
from kaiwa.ui.repl.state import Repl

# -- the input line -----------------------------------------------------------------------------------------


def type_into_prompt(keys: str, history: Path | None = None) -> str:
    """What the input line returns after `keys` arrive, as from a terminal."""

    async def run() -> str:
        with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
            completer = ReplCompleter(lambda: [], lambda: [], lambda: [])
            session = make_session(completer, lambda: "toolbar", history)
            pipe.send_text(keys)
            return await session.prompt_async("› ", handle_sigint=False)

    return asyncio.run(run())


def test_enter_sends_and_alt_enter_inserts_a_newline() -> None:
    assert type_into_prompt("hello\r") == "hello"
    assert type_into_prompt("first\x1b\rsecond\r") == "first\nsecond"  # Alt-Enter (ESC + CR)
    assert type_into_prompt("first\x1b\nsecond\r") == "first\nsecond"  # typed ahead: the terminal sent ^J


def test_a_bracketed_paste_is_one_message() -> None:
    page = "line one\r\nline two\n\nline four"
    assert type_into_prompt(f"\x1b[200~{page}\x1b[201~\r") == "line one\nline two\n\nline four"


def test_ctrl_c_and_ctrl_d_at_the_prompt() -> None:
    with pytest.raises(KeyboardInterrupt):
        type_into_prompt("half a line\x03")
    with pytest.raises(EOFError):
        type_into_prompt("\x04")
    assert type_into_prompt("ab\x02\x04\r") == "a"  # Ctrl-D on a non-empty line deletes, never leaves


def test_history_is_private_and_walked_with_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIWA_STATE_DIR", str(tmp_path / "state"))
    path = history_path()
    assert path == tmp_path / "state" / "repl-history"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert type_into_prompt("remember me\r", path) == "remember me"
    assert "remember me" in path.read_text()
    assert type_into_prompt("\x1b[A\r", path) == "remember me"  # Up: the last message, across runs
    assert type_into_prompt("something else\r", path) == "something else"
    assert type_into_prompt("\x12remem\r\r", path) == "remember me"  # Ctrl-R searches the history
    path.chmod(0o644)
    history_path()  # a looser file left by something else is tightened
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def completions(text: str, aliases: list[str] | None = None, recent: list[tuple[str, str]] | None = None) -> list:
    completer = ReplCompleter(registry.completions, lambda: aliases or [], lambda: recent or [])
    return [c.text for c in completer.get_completions(Document(text), None)]  # type: ignore[arg-type]


def test_completion() -> None:
    assert "/model" in completions("/") and "/resume" in completions("/")
    assert completions("/mo") == ["/model"]
    assert completions("/re") == ["/reasoning", "/retry", "/resume"]
    assert completions("/model fa", ["fake-a", "fake-b", "local"]) == ["fake-a", "fake-b"]
    assert completions("/resume 1a2b", recent=[("1a2b3c4d", "Terraform"), ("99999999", "other")]) == ["1a2b3c4d"]
    assert completions("/resume terra", recent=[("1a2b3c4d", "Terraform error")]) == ["1a2b3c4d"]
    assert completions("/reasoning h") == ["high"]
    assert completions("hello /mo") == [] and completions("//mo") == []


# -- commands on a real store -------------------------------------------------------------------------------


class FakeEndpoint:
    base_url = "http://127.0.0.1:9/v1"  # nothing listens: /model finds no list
    api_key = None
    managed = False


def make_repl(settings: Settings, store: Any, endpoint: Any, model: str = "fake-a", use_tools: bool = True) -> Repl:
    """A REPL on a Conversation as `open_conversation` makes it, on this store and endpoint, with a new session."""
    config = EngineConfig(endpoint.base_url, endpoint.api_key, timeout=60, max_retries=0, use_tools=use_tools)
    setup = Setup(model=model, use_tools=use_tools)
    return Repl(Conversation(settings, setup, store, endpoint, config, ignore), Face())


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The REPL's store, as the test reads it (the REPL itself reaches it only through its Conversation)."""
    from kaiwa.store import open_store

    monkeypatch.setenv("SESSION_DB_PATH", str(tmp_path / "s.sqlite3"))
    monkeypatch.delenv("SESSION_DB_URL", raising=False)
    opened = open_store(load_settings(None))
    asyncio.run(opened.open())
    yield opened
    asyncio.run(opened.close())


@pytest.fixture
def repl(store: Any) -> Iterator[Repl]:
    r = make_repl(load_settings(None), store, FakeEndpoint())
    r.err = Console(file=io.StringIO(), width=200)
    STORES[id(r)] = store
    yield r
    asyncio.run(r.conversation.close())
    del STORES[id(r)]


STORES: dict[int, Any] = {}  # a REPL's store, for the helpers below that read or write it directly


def screen(r: Repl) -> str:
    return r.err.file.getvalue()  # type: ignore[attr-defined]


def run(r: Repl, line: str) -> Any:
    return asyncio.run(dispatch(r, line))


def store_exchange(r: Repl, *pairs: tuple[str, str]) -> SessionInfo:
    items: list[dict[str, Any]] = []
    for question, answer in pairs:
        items.append({"role": "user", "content": question})
        items.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]})
    turns = [TurnRecord(model="fake-a", input_tokens=10, output_tokens=5, cost=0.001) for _ in pairs]
    info = SessionInfo(r.session_id, time.time(), time.time(), "fake-a", pairs[0][0], instructions="be brief")
    asyncio.run(STORES[id(r)].create_session(SessionDump(info, items, turns)))
    stored = asyncio.run(STORES[id(r)].get_session(r.session_id))
    assert stored is not None
    asyncio.run(r.conversation.open(stored))
    return stored


def test_unknown_command_names_the_closest(repl: Repl) -> None:
    assert run(repl, "/mdoel fake-b") is None
    assert "unknown command /mdoel: did you mean /model?" in screen(repl)
    run(repl, "/zzzzzz")
    assert "/help lists the commands" in screen(repl)
    assert run(repl, "/exit") is EXIT and run(repl, "/quit") is EXIT


def test_help_lists_every_command(repl: Repl) -> None:
    run(repl, "/help")
    for name in COMMANDS:
        assert f"/{name}" in screen(repl)


def test_reasoning_and_model_without_a_list(repl: Repl) -> None:
    run(repl, "/reasoning high")
    assert repl.reasoning == "high" and "reasoning high" in repl.toolbar()
    run(repl, "/reasoning off")
    assert repl.reasoning is None
    run(repl, "/reasoning extreme")
    assert "error: /reasoning 'extreme' is not one of low, medium, high, off" in screen(repl)
    run(repl, "/verbosity HIGH")
    assert repl.conversation.options.verbosity == "high" and "verbosity: high" in screen(repl)
    run(repl, "/verbosity loud")
    assert "error: /verbosity 'loud' is not one of low, medium, high, off" in screen(repl)
    run(repl, "/verbosity off")
    assert repl.conversation.options.verbosity is None
    run(repl, "/model fake-b")  # the proxy is unreachable: accepted, with a note
    assert repl.model == "fake-b" and "did not list its models" in screen(repl)


def test_system_on_a_new_session_is_kept_for_its_first_turn(repl: Repl) -> None:
    run(repl, "/system Answer in haiku.")
    assert repl.instructions == "Answer in haiku."
    run(repl, "/system")
    assert "Answer in haiku." in screen(repl)
    run(repl, "/system --default")
    assert repl.instructions is None
    run(repl, "/system")
    assert "kaiwa's default instructions" in screen(repl)


def test_system_on_a_stored_session_is_stored(repl: Repl) -> None:
    store_exchange(repl, ("q1", "a1"))
    assert repl.instructions == "be brief"
    run(repl, "/system Be thorough.")
    info = asyncio.run(STORES[id(repl)].get_session(repl.session_id))
    assert info is not None and info.instructions == "Be thorough."


def test_undo_removes_the_last_exchange_and_puts_it_back_on_the_line(repl: Repl) -> None:
    store_exchange(repl, ("q1", "a1"), ("q2", "a2"))
    run(repl, "/undo")
    items = asyncio.run(STORES[id(repl)].items(repl.session_id))
    assert [i["content"] if isinstance(i["content"], str) else i["content"][0]["text"] for i in items] == ["q1", "a1"]
    assert len(asyncio.run(STORES[id(repl)].turns(repl.session_id))) == 1
    assert repl.pending == "q2" and repl.last_answer == "a1"
    assert repl.info is not None and repl.info.turns == 1
    run(repl, "/undo")
    run(repl, "/undo")
    assert "error: nothing to undo" in screen(repl)


def test_usage_and_sessions(repl: Repl) -> None:
    run(repl, "/usage")
    assert "no turns yet" in screen(repl)
    info = store_exchange(repl, ("q1", "a1"), ("q2", "a2"))
    run(repl, "/usage")
    assert "2 turns · 20 in · 10 out · $0.002" in screen(repl)
    run(repl, "/sessions")
    assert f"* {info.short_id}" in screen(repl) and "q1" in screen(repl)


def test_fork_copies_and_resume_finds_by_fragment(repl: Repl) -> None:
    original = store_exchange(repl, ("q1", "a1"))
    run(repl, "/fork")
    assert repl.session_id != original.session_id and "forked: now in" in screen(repl)
    assert asyncio.run(STORES[id(repl)].items(repl.session_id)) == asyncio.run(
        STORES[id(repl)].items(original.session_id)
    )
    assert repl.instructions == "be brief"
    run(repl, f"/resume {original.short_id}")
    assert repl.session_id == original.session_id and "resumed" in screen(repl)
    run(repl, "/resume zzzzzzzz")
    assert "error:" in screen(repl)


def test_new_starts_an_empty_session(repl: Repl) -> None:
    store_exchange(repl, ("q1", "a1"))
    before = repl.session_id
    run(repl, "/new")
    assert repl.session_id != before and repl.info is None and repl.toolbar().split(" · ")[1] == "new"


def test_copy_uses_osc52(repl: Repl, monkeypatch: pytest.MonkeyPatch) -> None:
    run(repl, "/copy")
    assert "error: no answer to copy yet" in screen(repl)
    assert osc52("héllo") == "\x1b]52;c;" + base64.b64encode("héllo".encode()).decode() + "\x07"


def test_last_user_index_skips_tool_items() -> None:
    items = [
        {"role": "user", "content": "q"},
        {"type": "function_call", "name": "calculate", "arguments": "{}", "call_id": "c"},
        {"type": "function_call_output", "call_id": "c", "output": "2"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "2"}]},
    ]
    assert last_user_index(items) == 0
    assert last_user_index([]) is None


def test_the_repl_is_not_imported_by_one_shot_paths() -> None:
    import subprocess
    import sys

    code = "import kaiwa.cli, sys; print(any(m.startswith('prompt_toolkit') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "False"


# -- in-process, through the real proxy ------------------------------------------------------------------------


def test_every_turn_marks_the_local_gateway_as_used(
    proxy: Any, upstream: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaiwa.gateway.endpoint import Endpoint
    from kaiwa.store import open_store

    monkeypatch.setenv("KAIWA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SESSION_DB_PATH", str(tmp_path / "s.sqlite3"))
    monkeypatch.delenv("SESSION_DB_URL", raising=False)
    marker = tmp_path / "state" / "gateway.last-used"
    settings = load_settings(None)
    # The test proxy stands in for kaiwa's own gateway (managed=True): the REPL must keep it from idling out.
    endpoint = Endpoint(proxy.base_url, proxy.master_key, managed=True, log_path=None)

    async def two_turns() -> list[float]:
        store = open_store(settings)
        await store.open()
        r = make_repl(settings, store, endpoint, use_tools=False)
        r.out = r.err = Console(file=io.StringIO())
        seen = []
        try:
            for text in ("one", "two"):
                assert await r.send(text)
                seen.append(marker.stat().st_mtime)
                os.utime(marker, (0, 0))  # as if long ago: the next turn must touch it again
        finally:
            await r.conversation.close()
            await store.close()
        return seen

    assert not marker.exists()
    stamps = asyncio.run(two_turns())
    assert all(stamp > time.time() - 120 for stamp in stamps)
    assert stat.S_IMODE(marker.stat().st_mode) == 0o600


def test_an_exception_in_the_loop_still_stops_the_mcp_servers(
    proxy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import signal

    from kaiwa.ui.repl import start as repl_start
    from tests.mcp_fixtures import stdio_server_config

    pid_file = tmp_path / "mcp.pid"
    config = tmp_path / "mcp.json"
    server = stdio_server_config(env={"KAIWA_FIXTURE_PID_FILE": str(pid_file)})
    config.write_text(json.dumps({"mcpServers": {"words": server}}))
    for name, value in {
        "KAIWA_STATE_DIR": str(tmp_path / "state"),
        "SESSION_DB_PATH": str(tmp_path / "s.sqlite3"),
        "LITELLM_BASE_URL": proxy.base_url,
        "LITELLM_API_KEY": proxy.master_key,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SESSION_DB_URL", raising=False)

    async def broken_loop(repl: Repl) -> None:
        assert pid_file.exists()  # the server is up while the REPL runs
        raise RuntimeError("a bug in the loop")

    monkeypatch.setattr(repl_app, "loop", broken_loop)
    with pytest.raises(RuntimeError, match="a bug in the loop"):
        repl_start.run_repl(load_settings(None), Setup(model="fake-a", mcp_config=config), Face())
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the MCP server outlived the REPL's exception")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the REPL's handlers are gone


def test_new_keeps_the_instructions_given_with_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`chat.py --system TEXT` opens the REPL: every session it starts (/new too) gets TEXT, as KAIWA_SYSTEM would."""
    from kaiwa.store import open_store

    monkeypatch.setenv("SESSION_DB_PATH", str(tmp_path / "s.sqlite3"))
    monkeypatch.delenv("SESSION_DB_URL", raising=False)
    monkeypatch.setenv("KAIWA_SYSTEM", "Be brief.")
    settings = load_settings(None)
    store = open_store(settings)
    asyncio.run(store.open())
    endpoint = FakeEndpoint()
    config = EngineConfig(endpoint.base_url, endpoint.api_key, timeout=60, max_retries=0)
    setup = Setup(model="fake-a", instructions="Answer in haiku.")
    conversation = Conversation(settings, setup, store, endpoint, config, ignore)  # type: ignore[arg-type]
    r = Repl(conversation, Face())
    r.err = Console(file=io.StringIO(), width=200)
    try:
        assert r.instructions == "Answer in haiku."
        run(r, "/new")
        assert r.instructions == "Answer in haiku."
    finally:
        asyncio.run(store.close())


def test_a_failing_command_shows_its_own_traceback_with_debug(repl: Repl, monkeypatch: pytest.MonkeyPatch) -> None:
    """--debug: a bug in a / command shows where it happened, then the one line; the REPL stays."""
    import dataclasses

    async def broken_command_body(r: Repl, arg: str) -> None:
        raise RuntimeError("a bug in a command")

    monkeypatch.setitem(COMMANDS, "help", dataclasses.replace(COMMANDS["help"], run=broken_command_body))
    repl.face = Face(debug=True)
    assert run(repl, "/help") is None
    shown = screen(repl)
    assert "broken_command_body" in shown and "RuntimeError" in shown, shown
    assert "error: unexpected RuntimeError: a bug in a command" in shown


def test_what_is_said_while_the_repl_opens_is_shown_even_when_opening_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A store warning (here: a sessions file others can read) is shown as the REPL opens, not held back: a
    failure that follows (here: no such session) must not swallow it."""
    from kaiwa.errors import KaiwaError
    from kaiwa.store import open_store
    from kaiwa.ui.repl import start as repl_start

    db = tmp_path / "s.sqlite3"
    monkeypatch.setenv("SESSION_DB_PATH", str(db))
    monkeypatch.delenv("SESSION_DB_URL", raising=False)
    settings = load_settings(None)
    store = open_store(settings)
    asyncio.run(store.open())
    asyncio.run(store.close())
    db.chmod(0o644)
    with pytest.raises(KaiwaError, match="zzzzzzzz"):
        repl_start.run_repl(settings, Setup(model="fake-a", session_ref="zzzzzzzz", use_tools=False), Face())
    assert f"{db} is readable by others (mode 0644)" in capfd.readouterr().err
