"""Calls served by the warm process behave as cold ones: same output, exit code and stored session; each with
its own settings, input, output, environment and session, eight at once; a caller that dies takes its turn."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Kaiwa
from tests.harness import warm
from tests.harness.db import stored_texts
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply
from tests.warm.conftest import UUID, alive, run_counted, wait_until

NO_SUCH_SESSION = "0190a8c4-0000-7000-8000-000000000000"


CASES = {
    "one-shot": (["--input", "こんにちは"], "", Reply(text="こんにちは！", chunks=3), 0),
    "json-lines": (["--input", "hi", "--json"], "", Reply(text="hello there"), 0),
    "piped-stdin": (["--input", "summarise this"], "a piped document\n", Reply(text="a summary"), 0),
    "schema": (["--input", "name it", "--schema", "title: str"], "", Reply(text='{"title": "warm"}'), 0),
    "attach": (["--input", "read it", "-a", "note.txt"], "", Reply(text="read"), 0),
    "usage-error": (["--no-such-option"], "", None, 2),
    "no-such-session": (["--input", "x", "--session-id", NO_SUCH_SESSION], "", None, 2),  # bad input: exit 2
    "help": (["--help"], "", None, 0),
    "sessions": (["sessions", "list"], "", None, 0),
    "gateway": (["gateway", "status"], "", None, 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_warm_call_answers_exactly_as_a_cold_one(
    case: str, kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    args, stdin, reply, code = CASES[case]
    runs = {}
    for mode in ("warm", "cold"):
        home = tmp_path / mode
        home.mkdir()
        (home / "note.txt").write_text("an attached note\n")
        user = Kaiwa(home, {k: v for k, v in kaiwa.env.items() if k.startswith("LITELLM_")})
        if reply:
            upstream.script(reply)
        if mode == "cold":
            user.env["KAIWA_WARM"] = "0"
        runs[mode] = run_counted(user, *args, stdin=stdin)
    (warm_run, warm_served), (cold_run, cold_served) = runs["warm"], runs["cold"]
    assert (warm_served, cold_served) == (1, 0)
    assert warm_run.code == cold_run.code == code, (warm_run.err, cold_run.err)

    def same(text: str) -> str:
        for mode in ("warm", "cold"):
            text = text.replace(str(tmp_path / mode), "<home>")
        return UUID.sub("<uuid>", text)

    assert same(warm_run.out) == same(cold_run.out)
    assert same(warm_run.err) == same(cold_run.err)
    if reply:  # and the warm call stored its turn in its own database
        sid = UUID.search(warm_run.out + warm_run.err)
        assert sid and stored_texts(tmp_path / "warm" / "sessions.sqlite3", sid.group(0))


def test_settings_are_read_per_call(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    """The environment, ./.env.app and ~/.config/kaiwa/.env.app, each call its own, one warm process."""
    base = {k: v for k, v in kaiwa.env.items() if k != "LITELLM_MODEL"}
    folder_b = tmp_path / "project-b"
    folder_b.mkdir()
    (folder_b / ".env.app").write_text("LITELLM_MODEL=fake-b\n")
    user_config = kaiwa.home / ".config" / "kaiwa"
    user_config.mkdir(parents=True)
    (user_config / ".env.app").write_text("LITELLM_MODEL=fake-a\nKAIWA_SYSTEM=from the user config\n")
    before = warm.served(kaiwa.env)
    plain = Kaiwa(kaiwa.home, base)
    in_b = Kaiwa(kaiwa.home, base)
    in_b.home = folder_b  # the call's working folder (its HOME stays kaiwa.home)
    runs = [
        in_b("--input", "from b"),
        plain("--input", "from home"),
        plain("--input", "from env", LITELLM_MODEL="fake-b", KAIWA_SYSTEM="from the environment"),
    ]
    assert [r.code for r in runs] == [0, 0, 0], [r.err for r in runs]
    assert warm.served(kaiwa.env) - before == 3
    requests = [r.body for r in upstream.model_requests()]
    assert [b["model"] for b in requests] == ["fake-b-upstream", "fake-a-upstream", "fake-b-upstream"]
    systems = [next(m["content"] for m in b["messages"] if m["role"] == "system") for b in requests]
    assert "from the user config" in str(systems[0]) and "from the user config" in str(systems[1])
    assert "from the environment" in str(systems[2]) and "user config" not in str(systems[2])


def test_eight_calls_at_once_each_see_only_their_own(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path) -> None:
    n = 8
    upstream.script(*[Reply(text=f"answer {i}", chunks=4, chunk_delay=0.05) for i in range(n)])
    users = []
    for i in range(n):
        home = tmp_path / f"user{i}"
        home.mkdir()
        users.append(Kaiwa(home, {k: v for k, v in kaiwa.env.items() if k.startswith("LITELLM_")}))
    before = warm.served(kaiwa.env)
    procs = [
        subprocess.Popen(
            u.command("--input", f"question {i}"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=u.home,
            env={**u.env, "KAIWA_SYSTEM": f"system {i}"},
        )
        for i, u in enumerate(users)
    ]
    outs = [p.communicate(input=f"stdin {i}\n", timeout=180) for i, p in enumerate(procs)]
    assert [p.returncode for p in procs] == [0] * n, [err for _, err in outs]
    assert warm.served(kaiwa.env) - before == n
    answers = [out.strip() for out, _ in outs]
    assert sorted(answers) == [f"answer {i}" for i in range(n)]  # every answer printed once, to one caller
    for i, ((out, err), user) in enumerate(zip(outs, users, strict=True)):
        sid = re.search(r"SESSION_ID=(\S+)", err)
        assert sid, err
        stored = stored_texts(user.db, sid.group(1))  # its own database: only its own session, its own answer
        assert stored[-1] == ("assistant", out.strip())
        assert f"question {i}" in stored[0][1] and f"stdin {i}" in stored[0][1]
        with sqlite3.connect(user.db) as conn:
            assert conn.execute("SELECT COUNT(DISTINCT session_id) FROM agent_messages").fetchone() == (1,)
    for request in upstream.model_requests():  # each request carries one caller's input and environment
        body = json.dumps(request.body)
        i = int(re.search(r"question (\d)", body).group(1))  # type: ignore[union-attr]
        assert f"system {i}" in body and f"stdin {i}" in body
        assert not any(f"system {j}" in body or f"question {j}" in body for j in range(n) if j != i)


def test_a_caller_killed_mid_turn_takes_its_turn_with_it(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "one").session_id
    assert sid
    before = stored_texts(kaiwa.db, sid)
    upstream.script(Reply(text="word " * 60, chunks=60, chunk_delay=0.2))
    served = warm.served(kaiwa.env)
    proc = kaiwa.start("--input", "a long story", "--session-id", sid)
    assert proc.stdout is not None
    assert proc.stdout.read(4) == "word"  # the answer streams
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert warm.served(kaiwa.env) == served + 1
    log = Path(warm.files_for(kaiwa.env).log)  # this checkout's (a copy's or an installed kaiwa's may be beside)
    killed = wait_until(lambda: re.findall(r"caller of child (\d+) went away; killed it", log.read_text()), 30)
    pid = int(killed[-1])  # type: ignore[index]
    wait_until(lambda: not alive(pid), 10, f"child {pid} gone")
    assert stored_texts(kaiwa.db, sid) == before  # nothing of the abandoned turn
    upstream.script(Reply(text="short"))
    again = kaiwa("--input", "a short story", "--session-id", sid)  # its lock died with it
    assert again.code == 0 and again.out == "short\n", again.err


def test_ctrl_c_reaches_the_warm_child_exit_130_and_nothing_stored(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    sid = kaiwa("--input", "one").session_id
    assert sid
    before = stored_texts(kaiwa.db, sid)
    upstream.script(Reply(text="word " * 60, chunks=60, chunk_delay=0.2))
    served = warm.served(kaiwa.env)
    run = Kaiwa.interrupt(kaiwa.start("--input", "long", "--session-id", sid), after_stdout_bytes=5)
    assert warm.served(kaiwa.env) == served + 1
    assert run.code == 130 and "Traceback" not in run.err, run.err
    assert stored_texts(kaiwa.db, sid) == before
    time.sleep(0)  # the session is free again
    upstream.script(Reply(text="again"))
    assert kaiwa("--input", "again", "--session-id", sid).code == 0


def test_a_call_in_another_namespace_runs_cold_there(kaiwa: Kaiwa, tmp_path: Path) -> None:
    """`unshare`: its own user and mount namespaces, where a tmpfs hides the folder. A warm child would run in
    the warm process's namespaces and see the folder as it is outside; the call runs cold, where it was made."""
    import shutil

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("no user namespaces here")
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / ".env.app").write_text("KAIWA_SYSTEM=seen outside\n")
    script = f"mount -t tmpfs tmpfs {hidden} && cd {hidden} && ls -a && {' '.join(kaiwa.command('--debug', '--help'))}"
    before = warm.served(kaiwa.env)
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=kaiwa.env)
    assert done.returncode == 0, done.stderr
    listing = done.stdout.split("Usage", 1)[0]  # `ls -a`'s output, before --help's (which names .env.app itself)
    assert ".env.app" not in listing  # inside, the folder is the empty tmpfs
    assert "running cold (the call runs in another namespace" in done.stderr
    assert warm.served(kaiwa.env) == before
