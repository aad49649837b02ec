"""One place for conversations: without SESSION_DB_PATH, kaiwa keeps them in its data folder ($XDG_DATA_HOME/kaiwa,
else ~/.local/share/kaiwa, made 0700), whichever folder it runs in; a sessions.sqlite3 the original chat.py left in
the current folder is pointed out once, with the command that copies it in. chat.py runs as a subprocess with a
private HOME; the installed `kaiwa` does the same in tests/cli/test_install.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from tests.cli.test_adopt import CONVERSATIONS, MATH, write_sdk_file
from tests.conftest import Kaiwa, Run
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply


def user_env(kaiwa: Kaiwa, **extra: str) -> dict[str, str]:
    """The fixture's environment as a newcomer has it: no SESSION_DB_PATH, no XDG_DATA_HOME."""
    env = {k: v for k, v in kaiwa.env.items() if k not in ("SESSION_DB_PATH", "XDG_DATA_HOME")}
    return {**env, **extra}


def run_in(kaiwa: Kaiwa, folder: Path, *args: str, **extra: str) -> Run:
    proc = subprocess.run(
        kaiwa.command(*args),
        capture_output=True,
        text=True,
        cwd=folder,
        env=user_env(kaiwa, **extra),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def listed(kaiwa: Kaiwa, folder: Path, **extra: str) -> list[dict[str, Any]]:
    run = run_in(kaiwa, folder, "sessions", "--json", **extra)
    assert run.code == 0, run.err
    return list(json.loads(run.out))


def folders(root: Path) -> tuple[Path, Path]:
    a, b = root / "project-a", root / "project-b"
    a.mkdir()
    b.mkdir()
    return a, b


def test_two_folders_continue_one_conversation_kept_in_the_data_folder(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    a, b = folders(kaiwa.home)
    upstream.script(Reply(text="first answer"), Reply(text="second answer"))
    first = run_in(kaiwa, a, "--input", "remember the platypus")
    assert first.code == 0, first.err
    second = run_in(kaiwa, b, "-c", "--input", "what did I ask?")
    assert second.code == 0, second.err
    assert second.session_id == first.session_id  # -c in another folder found it
    assert "remember the platypus" in json.dumps(upstream.model_requests()[-1].body)
    data = kaiwa.home / ".local" / "share" / "kaiwa"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "sessions.sqlite3").stat().st_mode) == 0o600
    assert not list(a.glob("sessions.sqlite3*")) and not list(b.glob("sessions.sqlite3*"))
    assert [s["id"] for s in listed(kaiwa, b)] == [first.session_id]
    # XDG_DATA_HOME moves it; SESSION_DB_PATH still wins
    assert listed(kaiwa, a, XDG_DATA_HOME=str(kaiwa.home / "elsewhere")) == []
    assert (kaiwa.home / "elsewhere" / "kaiwa" / "sessions.sqlite3").is_file()
    assert listed(kaiwa, a, SESSION_DB_PATH=str(kaiwa.home / "own.sqlite3")) == []
    assert (kaiwa.home / "own.sqlite3").is_file()


def test_the_seeds_sessions_file_is_pointed_out_once_and_copied_in(tmp_path: Path) -> None:
    """No proxy needed: listing and copying sessions talk to no model."""
    kaiwa = Kaiwa(tmp_path, {})
    a, b = folders(tmp_path)
    seed = a / "sessions.sqlite3"
    write_sdk_file(seed)  # what the original chat.py wrote in the folder it ran in
    first = run_in(kaiwa, a, "sessions")
    assert first.code == 0, first.err
    notice = [line for line in first.err.splitlines() if str(seed) in line]
    assert len(notice) == 1 and f"sessions migrate --from {seed}" in notice[0], first.err
    assert "no stored sessions" in first.err  # the data folder's store: the seed's file is not read
    again = run_in(kaiwa, a, "sessions")
    assert again.code == 0 and str(seed) not in again.err  # said once
    assert str(seed) not in run_in(kaiwa, b, "sessions").err  # another folder has none
    copied = run_in(kaiwa, b, "sessions", "migrate", "--from", str(seed))
    assert copied.code == 0, copied.err
    assert copied.out.startswith(f"copied 3 sessions ({sum(map(len, CONVERSATIONS.values()))} items")
    ids = [s["id"] for s in listed(kaiwa, b)]
    assert len(ids) == 3 and MATH in ids
    again = run_in(kaiwa, b, "sessions", "migrate", "--from", str(seed))
    assert again.code == 0 and "copied 0 sessions" in again.out and "3 already there" in again.out
    store = tmp_path / ".local" / "share" / "kaiwa" / "sessions.sqlite3"
    itself = run_in(kaiwa, b, "sessions", "migrate", "--from", str(store))
    assert itself.code == 2 and "kaiwa's store itself" in itself.err


def test_a_seed_file_of_another_user_is_not_pointed_out(tmp_path: Path) -> None:
    kaiwa = Kaiwa(tmp_path, {})
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    os.chmod(shared, 0o1777)
    seed = shared / "sessions.sqlite3"
    write_sdk_file(seed)
    os.chown(seed, 65534, 65534)  # nobody's: a file planted there is not the user's old store
    run = run_in(kaiwa, shared, "sessions")
    assert run.code == 0, run.err
    assert str(seed) not in run.err and "no stored sessions" in run.err  # neither used nor offered
