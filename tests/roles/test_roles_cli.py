"""`chat.py roles` and `chat.py roles show NAME` as a user runs them: a subprocess (a pseudo-terminal for the table)
with its own HOME, XDG_CONFIG_HOME and working folder. No proxy is needed: listing roles reads files only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from tests.conftest import CHAT, Run
from tests.harness.term import plain
from tests.roles.helpers import project_roles, trust_folder, user_roles, write_role


@dataclass
class Place:
    cwd: Path
    config: Path
    env: dict[str, str]

    def __call__(self, *args: str, trusted: bool = True) -> Run:
        if trusted:  # the project's files as they are now (tests/roles/test_trust.py: a folder that is not)
            trust_folder(self.cwd, Path(self.env["KAIWA_STATE_DIR"]))
        proc = subprocess.run(
            [sys.executable, str(CHAT), *args],
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def place(tmp_path: Path) -> Place:
    cwd, config, home = tmp_path / "repo", tmp_path / "config", tmp_path / "home"
    for folder in (cwd, config, home):
        folder.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(config),
        "KAIWA_STATE_DIR": str(tmp_path / "state"),
        "NO_COLOR": "1",
        "PYTHONUNBUFFERED": "1",
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", ""),  # the run's one warm process
    }
    write_role(user_roles(config), "translate", "Translate into Japanese.\nKeep code as it is.\n", "model: fake-b\n")
    write_role(user_roles(config), "review", "The user's review.\n", "model: fake-b\n")
    write_role(project_roles(cwd), "review", "The project's review.\n", "model: fake-a\nreasoning: low\n")
    return Place(cwd, config, env)


def assert_one_line(run: Run, code: int = 2) -> str:
    assert run.code == code, run
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    return lines[0]


def test_piped_listing_is_tab_separated(place: Place) -> None:
    run = place("roles")
    assert run.code == 0, run
    rows = [line.split("\t") for line in run.out.splitlines()]
    assert rows == [
        ["commit", "built-in", "", "Write a git commit message for the diff you are given."],
        ["review", "project", "fake-a", "The project's review."],
        ["translate", "user", "fake-b", "Translate into Japanese."],
    ]
    assert place("roles", "list").out == run.out


def test_json_listing_and_show(place: Place) -> None:
    listed = json.loads(place("roles", "--json").out)
    review = next(r for r in listed if r["name"] == "review")
    assert review["origin"] == "project" and review["path"] == ".kaiwa/roles/review.md"
    assert review["overrides"] == ["user", "built-in"]
    assert (review["model"], review["reasoning"], review["tools"], review["mcp"]) == ("fake-a", "low", True, None)
    shown = json.loads(place("roles", "show", "commit", "--json").out)
    assert shown["origin"] == "built-in" and shown["tools"] is False and shown["temperature"] == 0.2
    assert shown["instructions"].startswith("Write a git commit message")


def test_show_prints_the_role(place: Place) -> None:
    run = place("roles", "show", "review")
    assert run.code == 0, run
    assert run.out == (
        "role: review\n"
        "from: project (.kaiwa/roles/review.md)\n"
        "overrides: user, built-in\n"
        "model: fake-a\n"
        "reasoning: low\n"
        "\n"
        "The project's review.\n"
    )
    commit = place("roles", "show", "commit").out
    assert "temperature: 0.2\ntools: false\n\nWrite a git commit message" in commit


def test_unknown_role_is_one_line_listing_the_known(place: Place) -> None:
    line = assert_one_line(place("roles", "show", "reviewer"))
    assert line == (
        "error: no role 'reviewer' — known roles: commit, review, translate (a new one is .kaiwa/roles/reviewer.md)"
    )


def test_bad_front_matter_is_one_line_and_the_listing_keeps_the_rest(place: Place) -> None:
    write_role(user_roles(place.config), "hot", "Be wild.\n", "model: fake-a\ntemperature: 2.5\n")
    path = user_roles(place.config) / "hot.md"
    expected = f"error: role file {path}, line 3: temperature 2.5 is out of range — give a number from 0 to 2, e.g. 0.2"
    assert assert_one_line(place("roles", "show", "hot")) == expected
    listing = place("roles")
    assert assert_one_line(listing) == expected
    assert [line.split("\t")[0] for line in listing.out.splitlines()] == ["commit", "review", "translate"]


def test_front_matter_nested_thousands_deep_is_one_line(place: Place) -> None:
    # PyYAML composes nested values recursively: this was a RecursionError's traceback.
    write_role(project_roles(place.cwd), "deep", "Hi.\n", "model: " + "[" * 50_000 + "]" * 50_000 + "\n")
    line = assert_one_line(place("roles", "show", "deep"))
    assert line.startswith("error: role file .kaiwa/roles/deep.md, line 2: the front matter nests too deeply"), line
    assert assert_one_line(place("roles"), 2) == line


def test_a_project_role_linking_outside_its_folder_is_one_line_and_never_read(place: Place) -> None:
    secret = place.cwd.parent / "credentials"
    secret.write_text("aws_secret_access_key = do-not-show-4f1c\n")
    (project_roles(place.cwd) / "commit.md").symlink_to(secret)  # a cloned repository's role
    (project_roles(place.cwd) / "same.md").symlink_to("review.md")  # inside the folder: fine
    run = place("roles", "show", "commit")
    line = assert_one_line(run)
    assert line.startswith("error: role file .kaiwa/roles/commit.md links to a file outside the project ("), line
    assert "do-not-show" not in run.out + run.err
    listing = place("roles")
    assert "do-not-show" not in listing.out + listing.err and "outside the project" in listing.err
    assert place("roles", "show", "same").out.count("The project's review.") == 1


def test_a_huge_role_is_one_line(place: Place) -> None:
    write_role(project_roles(place.cwd), "huge", "x" * 300_000 + "\n", "model: fake-a\n")
    line = assert_one_line(place("roles", "show", "huge"))
    assert line.startswith("error: role file .kaiwa/roles/huge.md is 300,") and "at most 262,144" in line, line


def test_a_role_file_cannot_drive_the_terminal(place: Place) -> None:
    write_role(project_roles(place.cwd), "evil", "\x1b]0;pwned\x07Hello\x1b[2J\n")
    run = place("roles", "show", "evil")
    assert "\x1b" not in run.out and "␛]0;pwned␇Hello␛[2J" in run.out
    assert "\x1b" not in place("roles").out


def test_a_roles_model_cannot_drive_the_terminal_in_the_piped_listing(place: Place) -> None:
    write_role(project_roles(place.cwd), "evil", "Hi.\n", 'model: "m\\e]0;pwned\\a"\n')
    run = place("roles")
    assert run.code == 0, run
    [row] = [line.split("\t") for line in run.out.splitlines() if line.startswith("evil\t")]
    assert row == ["evil", "project", "m␛]0;pwned␇", "Hi."]


def test_a_failure_line_quoting_a_role_file_cannot_drive_the_terminal(place: Place) -> None:
    # A YAML key is any text (a double-quoted one holds escapes): the one line that quotes it must not drive the
    # terminal, in `roles show`, in the listing, and when a turn is asked for with -r.
    write_role(project_roles(place.cwd), "evil", "Hi.\n", '"\\e]0;pwned\\a": 1\n"\\e]0;pwned\\a": 2\n')
    for run in (place("roles", "show", "evil"), place("roles"), place("-r", "evil", "-i", "hi")):
        line = assert_one_line(run)
        assert "\x1b" not in line and "\x07" not in line and "␛]0;pwned␇ is given twice" in line, line


def test_on_a_terminal_a_table(place: Place) -> None:
    trust_folder(place.cwd, Path(place.env["KAIWA_STATE_DIR"]))
    child = pexpect.spawn(
        sys.executable,
        [str(CHAT), "roles"],
        cwd=str(place.cwd),
        env={**place.env, "TERM": "xterm-256color"},
        dimensions=(24, 90),
        encoding="utf-8",
        timeout=60,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    lines = [line.rstrip() for line in plain(child.before).splitlines() if line.strip()]
    assert lines[0].split() == ["name", "from", "model", "instructions"]
    assert lines[1].split()[:3] == ["commit", "built-in", "–"]
    assert lines[2].split()[:5] == ["review", "project", "(over", "user,", "built-in)"]
    assert lines[2].endswith("The project's review.")
    assert lines[3].split()[:3] == ["translate", "user", "fake-b"]
    assert all(len(line) <= 90 for line in lines)
    assert lines[1].endswith("…")  # the instructions give way on a narrow terminal


def test_listing_roles_imports_no_sdk(place: Place) -> None:
    code = (
        "import sys; sys.argv = ['chat.py', 'roles']\n"
        "from kaiwa.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('agents', 'openai', 'prompt_toolkit', 'sqlalchemy') if m in sys.modules)\n"
        "print('HEAVY', heavy, 'yaml' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=place.cwd, env=place.env, timeout=60
    )
    assert "HEAVY [] True" in run.stdout, run
