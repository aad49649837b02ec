"""The warm path on a real terminal (pexpect): a one-shot renders as a cold one (Markdown, colours); the
interactive mode runs on the caller's terminal, follows its window size, and its $EDITOR starts in the call's
folder, umask and environment."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Kaiwa
from tests.harness import warm
from tests.harness.term import ANSI, Term
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply
from tests.warm.conftest import UUID

MARKDOWN = "# A title\n\nSome **bold** words and `code`.\n\n- one\n- two\n"


def one_shot_in_tmux(user: Kaiwa, name: str) -> str:
    """`chat.py --input …` in a real terminal (tmux, 100x30): the screen afterwards, with its styles."""
    env = {k: v for k, v in user.env.items() if k != "NO_COLOR"}
    env.update(TERM="tmux-256color")
    command = " ".join(
        shlex.quote(a)
        for a in ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *user.command("--input", "show me")]
    )
    tmux = ["tmux", "-u", "-L", f"kaiwa-warm-{os.getpid()}-{name}", "-f", "/dev/null"]
    subprocess.run(
        [
            *tmux,
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "100",
            "-y",
            "30",
            f"cd {shlex.quote(str(user.home))}; {command}; echo EXIT=$?; sleep 600",
        ],
        check=True,
    )
    try:
        deadline = time.monotonic() + 90
        screen = ""
        while "EXIT=" not in screen and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-e", "-S", "-", "-t", "t"], capture_output=True, text=True
            ).stdout
        assert "EXIT=0" in screen, screen
        return screen
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_a_one_shot_on_a_terminal_renders_markdown_in_colour_as_cold(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    screens = {}
    for mode in ("warm", "cold"):
        home = tmp_path / mode
        home.mkdir()
        user = Kaiwa(home, {k: v for k, v in kaiwa.env.items() if k.startswith("LITELLM_")})
        if mode == "cold":
            user.env["KAIWA_WARM"] = "0"
        upstream.script(Reply(text=MARKDOWN, chunks=4))
        before = warm.served(kaiwa.env)
        screens[mode] = UUID.sub("<uuid>", one_shot_in_tmux(user, mode))
        assert warm.served(kaiwa.env) - before == (1 if mode == "warm" else 0)
    text = ANSI.sub("", screens["warm"])
    assert "A title" in text and "**" not in text  # Markdown rendered, not printed raw
    assert "\x1b[" in screens["warm"]  # in colour: the terminal was seen as one
    assert screens["warm"] == screens["cold"]  # the same screen, styles and all


EDITOR = """
import json, os, signal, sys, time
seen, path = sys.argv[1], sys.argv[-1]  # $EDITOR is "python editor.py seen.json"; the message file comes last
resized = []
signal.signal(signal.SIGWINCH, lambda *_: resized.append(True))
open(seen + ".ready", "w").close()
deadline = time.monotonic() + 20
while not resized and time.monotonic() < deadline:
    time.sleep(0.05)
json.dump({"cwd": os.getcwd(), "umask": os.umask(0), "mark": os.environ.get("WARM_TEST_MARK"),
           "state": os.environ.get("KAIWA_STATE_DIR"), "size": list(os.get_terminal_size(0)),
           "sigwinch": bool(resized)}, open(seen, "w"))
open(path, "w").write("written in the editor\\n")
"""


def test_the_interactive_mode_runs_warm_on_the_callers_terminal(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn, tmp_path: Path
) -> None:
    editor, seen = tmp_path / "editor.py", tmp_path / "editor-saw.json"
    editor.write_text(EDITOR)
    folder = tmp_path / "work folder"
    folder.mkdir()
    kaiwa.home = folder  # the call's working folder
    before = warm.served(kaiwa.env)
    old_umask = os.umask(0o027)  # the caller's umask (pexpect's child inherits it)
    try:
        term = Term(kaiwa, EDITOR=f"{sys.executable} {editor} {seen}", VISUAL="", WARM_TEST_MARK="this call")
    finally:
        os.umask(old_umask)
    try:
        term.ready()
        assert warm.served(kaiwa.env) == before + 1
        upstream.script(Reply(text="first answer"))
        assert "first answer" in term.turn("hello")
        term.enter("/edit")
        # The editor runs; the window shrinks: the terminal signals the caller, which forwards SIGWINCH to the
        # warm child's process group, the editor's.
        ready = Path(f"{seen}.ready")
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        term.child.setwinsize(24, 70)
        term.wait_for("› written in the editor")
        saw = json.loads(seen.read_text())
        assert saw == {
            "cwd": str(folder),
            "umask": 0o027,
            "mark": "this call",
            "state": kaiwa.env["KAIWA_STATE_DIR"],  # this call's, not the warm process's
            "size": [70, 24],
            "sigwinch": True,
        }
        term.mark()
        term.send("\r")
        term.after(" in · ")
        term.mark()
        term.ctrl("d")
        assert term.exit_status() == 0
    finally:
        term.close()


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGHUP"])
def test_a_signal_to_the_caller_ends_the_warm_repl_with_its_code(kaiwa: Kaiwa, signum: str) -> None:
    import signal

    term = Term(kaiwa)
    try:
        term.ready()
        term.kill(getattr(signal, signum))
        assert term.exit_status() == 128 + getattr(signal, signum)
    finally:
        term.close()


def test_ansi_pattern_matches_what_rich_writes() -> None:  # the helpers above lean on it
    assert ANSI.sub("", "\x1b[1mbold\x1b[0m") == "bold"
