"""Where roles come from, and which file a name means.

A role is `NAME.md` in one of three places; the first that has it wins:
  project   ./.kaiwa/roles/              (shared in a repository)
  user      $XDG_CONFIG_HOME/kaiwa/roles/ (else ~/.config/kaiwa/roles/)
  built-in  the roles kaiwa ships (kaiwa/roles/builtin/)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from ..errors import UsageError
from ..settings import user_config_dir
from .front_matter import Problem, RoleSettings, parse

Origin = Literal["project", "user", "built-in"]
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_BYTES = 256 * 1024  # a role is instructions, read whole and sent with every turn


@dataclass(frozen=True)
class RoleFile:
    name: str
    origin: Origin
    path: Traversable  # a Path, except for a built-in role inside an installed package
    shadows: tuple[Origin, ...] = ()  # the places with a file of the same name that this one overrides

    @property
    def shown_path(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class Role:
    name: str
    origin: Origin
    path: str
    settings: RoleSettings
    instructions: str | None
    shadows: tuple[Origin, ...] = ()

    @property
    def summary(self) -> str:
        """The first line of the instructions (what `roles` lists)."""
        for line in (self.instructions or "").splitlines():
            if line.strip():
                return line.strip()
        return ""


def folders() -> list[tuple[Origin, Traversable]]:
    """The places roles are looked for, the one that wins first."""
    return [
        ("project", Path(".kaiwa") / "roles"),
        ("user", user_config_dir() / "roles"),
        ("built-in", resources.files(__package__ or "kaiwa.roles") / "builtin"),
    ]


def _names_in(folder: Traversable) -> dict[str, Traversable]:
    try:
        entries = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:  # an unreadable folder holds no roles we can use
        return {}
    found: dict[str, Traversable] = {}
    for entry in entries:
        stem = entry.name.removesuffix(".md")
        if entry.name.endswith(".md") and NAME.fullmatch(stem) and entry.is_file():
            found[stem] = entry
    return found


def role_files() -> dict[str, RoleFile]:
    """Every role name, with the file that wins for it, by name."""
    chosen: dict[str, RoleFile] = {}
    for origin, folder in folders():
        for name, path in _names_in(folder).items():
            if name in chosen:
                winner = chosen[name]
                chosen[name] = RoleFile(name, winner.origin, winner.path, (*winner.shadows, origin))
            else:
                chosen[name] = RoleFile(name, origin, path)
    return dict(sorted(chosen.items()))


def read_role(found: RoleFile) -> Role:
    """The role in `found`'s file, or UsageError naming the file and the line."""
    where = f"role file {found.shown_path}"
    _check_file(found, where)
    try:
        text = found.path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not UTF-8 text", "save it as UTF-8") from None
    except OSError as error:
        raise UsageError(f"{where} cannot be read: {error.strerror or error}", "check its permissions") from None
    try:
        settings, instructions = parse(text)
    except Problem as problem:
        raise UsageError(f"{where}, line {problem.line}: {problem.message}", problem.hint) from None
    return Role(found.name, found.origin, found.shown_path, settings, instructions, found.shadows)


def _check_file(found: RoleFile, where: str) -> None:
    """A project's role is read from its own folder only: a repository's link (`review.md → ~/.aws/credentials`)
    would show that file in `roles show` and send it to the model as instructions. And no role is huge."""
    path = found.path
    if not isinstance(path, Path):
        return  # kaiwa's own
    try:
        if found.origin == "project" and not path.resolve().is_relative_to(path.parent.resolve()):
            raise UsageError(
                f"{where} links to a file outside .kaiwa/roles/; a project's roles are read only from there",
                "copy the file into .kaiwa/roles/ instead of linking to it",
            )
        size = path.stat().st_size
    except OSError:
        return  # read_role says what is wrong with it
    if size > MAX_BYTES:
        raise UsageError(f"{where} is {size:,} bytes; a role holds at most {MAX_BYTES:,}", "shorten its instructions")


def unknown_role(name: str, known: list[str]) -> UsageError:
    listed = ", ".join(known) if known else "none"
    new = f" (a new one is .kaiwa/roles/{name}.md)" if NAME.fullmatch(name) else ""
    return UsageError(f"no role {name!r}", f"known roles: {listed}{new}")


def load_role(name: str) -> Role:
    """The role called `name` (the project's, else the user's, else kaiwa's own)."""
    files = role_files()
    found = files.get(name)
    if found is None:
        raise unknown_role(name, list(files))
    return read_role(found)


def load_roles() -> tuple[list[Role], list[UsageError]]:
    """Every role that reads well, and a one-line error for each that does not."""
    roles: list[Role] = []
    problems: list[UsageError] = []
    for found in role_files().values():
        try:
            roles.append(read_role(found))
        except UsageError as error:
            problems.append(error)
    return roles, problems
