"""The role loader on real files: front matter rules (the flags' rules, one line naming file and line), where roles
are found and which file wins (project over user over kaiwa's own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaiwa import roles, trust
from kaiwa.errors import UsageError
from kaiwa.roles import Role, RoleFile
from kaiwa.roles.front_matter import RoleSettings
from tests.roles.helpers import project_roles, user_roles, write_role

# The project folder of these tests is one the user trusts (kaiwa/trust.py; tests/roles/test_trust.py is about
# folders that are not): each lookup trusts its files as they are at that moment, as `chat.py trust` would.


def load_role(name: str) -> Role:
    trust.trust(Path.cwd())
    return roles.load_role(name)


def load_roles() -> tuple[list[Role], list[UsageError]]:
    trust.trust(Path.cwd())
    return roles.load_roles()


def role_files() -> dict[str, RoleFile]:
    trust.trust(Path.cwd())
    return roles.role_files()


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(project folder = cwd, XDG_CONFIG_HOME), both empty, and a HOME with nothing in it."""
    cwd, config, home = tmp_path / "repo", tmp_path / "config", tmp_path / "home"
    for folder in (cwd, config, home):
        folder.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAIWA_STATE_DIR", str(tmp_path / "state"))
    return cwd, config


def refused(name: str) -> str:
    with pytest.raises(UsageError) as caught:
        load_role(name)
    assert caught.value.exit_code == 2
    line = caught.value.line()
    assert "\n" not in line
    return line


def test_a_file_without_front_matter_is_all_instructions(places: tuple[Path, Path]) -> None:
    cwd, _ = places
    write_role(project_roles(cwd), "terse", "\nAnswer in one sentence.\n\nNo lists.\n\n")
    role = load_role("terse")
    assert role.instructions == "Answer in one sentence.\n\nNo lists."
    assert role.settings == RoleSettings()
    assert (role.origin, role.path, role.summary) == ("project", ".kaiwa/roles/terse.md", "Answer in one sentence.")


def test_every_key_is_read_and_checked(places: tuple[Path, Path]) -> None:
    cwd, _ = places
    front = (
        "# a comment\n"
        "model: fake-b\n"
        "reasoning: High\n"
        "temperature: 1\n"
        "max_output_tokens: 300\n"
        "verbosity: low\n"
        "tools: false\n"
        "mcp: [git, words]\n"
    )
    write_role(project_roles(cwd), "all", "Be brief.\r\n", front)
    role = load_role("all")
    assert role.settings == RoleSettings(
        model="fake-b",
        reasoning="high",
        temperature=1.0,
        max_output_tokens=300,
        verbosity="low",
        tools=False,
        mcp=("git", "words"),
    )
    assert role.instructions == "Be brief."


def test_empty_front_matter_empty_body_and_crlf(places: tuple[Path, Path]) -> None:
    cwd, _ = places
    write_role(project_roles(cwd), "blank", "", "")
    assert load_role("blank").instructions is None
    (project_roles(cwd) / "crlf.md").write_bytes(b"\xef\xbb\xbf---\r\nmodel: fake-a\r\nmcp: []\r\n---\r\nHi.\r\n")
    role = load_role("crlf")
    assert (role.settings.model, role.settings.mcp, role.instructions) == ("fake-a", (), "Hi.")


BAD = [
    ("temperature: 3\n", 2, "temperature 3 is out of range — give a number from 0 to 2, e.g. 0.2"),
    ("temperature: warm\n", 2, "temperature must be a number, not text"),
    ("temperature: true\n", 2, "temperature must be a number, not true/false"),
    ("max_output_tokens: 0\n", 2, "max_output_tokens 0 is too small — give at least 1, e.g. 2000"),
    ("max_output_tokens: 1.5\n", 2, "max_output_tokens 1.5 is not a whole number"),
    ("reasoning: extreme\n", 2, "reasoning 'extreme' is not one of low, medium, high"),
    ("reasoning: off\n", 2, "reasoning must be one of low, medium, high, not true/false"),
    ("verbosity: loud\n", 2, "verbosity 'loud' is not one of low, medium, high"),
    ("tools: maybe\n", 2, "tools must be true or false, not text"),
    ("mcp: git\n", 2, "mcp must be a list of server names, not text — e.g. mcp: [git], or mcp: []"),
    ("mcp: [git, git]\n", 2, "mcp names a server twice"),
    ("model:\n", 2, "model must be text, not empty"),
    ("model: 4\n", 2, "model must be text, not a number"),
    ("model: fake-a\n\n# why\ntemprature: 1\n", 5, "unknown key 'temprature' — known keys: model, reasoning,"),
    ("model: fake-a\ntools: false\nmodel: fake-b\n", 4, "model is given twice (first on line 2)"),
    ("model: fake-a\nmcp: [git\n", 4, "not valid YAML"),
    ("- model\n- fake-a\n", 2, "the front matter must be 'key: value' lines"),
    ("just words\n", 2, "the front matter must be 'key: value' lines"),
]


@pytest.mark.parametrize(("front", "line", "message"), BAD)
def test_bad_front_matter_is_one_line_naming_file_and_line(
    places: tuple[Path, Path], front: str, line: int, message: str
) -> None:
    cwd, _ = places
    write_role(project_roles(cwd), "bad", "Body.\n", front)
    text = refused("bad")
    assert text.startswith(f"error: role file .kaiwa/roles/bad.md, line {line}: "), text
    assert message in text


def test_unclosed_front_matter_and_unreadable_files(places: tuple[Path, Path]) -> None:
    cwd, _ = places
    folder = project_roles(cwd)
    folder.mkdir(parents=True)
    (folder / "open.md").write_text("---\nmodel: fake-a\nBe brief.\n")
    assert "open.md, line 1: the front matter opened by '---' has no closing '---'" in refused("open")
    (folder / "latin.md").write_bytes("Réponds en français.".encode("latin-1"))
    assert refused("latin") == "error: role file .kaiwa/roles/latin.md is not UTF-8 text — save it as UTF-8"


def test_project_wins_over_user_over_builtin(places: tuple[Path, Path]) -> None:
    cwd, config = places
    write_role(user_roles(config), "review", "User review.\n", "model: fake-b\n")
    write_role(user_roles(config), "mine", "User only.\n")
    assert load_role("review").instructions == "User review."
    assert load_role("review").shadows == ("built-in",)
    write_role(project_roles(cwd), "review", "Project review.\n")
    role = load_role("review")
    assert (role.origin, role.instructions, role.settings.model) == ("project", "Project review.", None)
    assert role.shadows == ("user", "built-in")
    assert load_role("mine").origin == "user"
    assert load_role("commit").origin == "built-in"
    assert list(role_files()) == ["commit", "mine", "review"]


def test_without_xdg_config_home_the_user_folder_is_under_home(
    places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    write_role(user_roles(tmp_path / "home" / ".config"), "homed", "From HOME.\n")
    assert load_role("homed").origin == "user"


def test_only_role_files_count(places: tuple[Path, Path]) -> None:
    cwd, _ = places
    folder = project_roles(cwd)
    write_role(folder, "ok", "Fine.\n")
    for name in (".hidden.md", "notes.txt", "-dash.md", "with space.md"):
        (folder / name).write_text("x")
    (folder / "dir.md").mkdir()
    assert list(role_files()) == ["commit", "ok", "review"]


def test_unknown_role_lists_the_known_ones(places: tuple[Path, Path]) -> None:
    cwd, _ = places
    write_role(project_roles(cwd), "translate", "Translate.\n")
    assert refused("reviwe") == (
        "error: no role 'reviwe' — known roles: commit, review, translate (a new one is .kaiwa/roles/reviwe.md)"
    )
    assert refused("../etc/passwd") == "error: no role '../etc/passwd' — known roles: commit, review, translate"


def test_load_roles_keeps_the_good_and_reports_the_bad(places: tuple[Path, Path]) -> None:
    cwd, _ = places
    write_role(project_roles(cwd), "broken", "x\n", "temperature: 9\n")
    roles, problems = load_roles()
    assert [r.name for r in roles] == ["commit", "review"]
    assert [p.message for p in problems] == ["role file .kaiwa/roles/broken.md, line 2: temperature 9 is out of range"]


def test_shipped_roles_read_cleanly(places: tuple[Path, Path]) -> None:
    commit, review = load_role("commit"), load_role("review")
    assert commit.settings.tools is False and "commit message" in commit.summary
    assert review.summary.startswith("Review the code or the diff")
