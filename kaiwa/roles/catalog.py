"""Where roles come from, and which file a name means.

A role is `NAME.md` in one of three places; the first that has it wins:
  project   .kaiwa/roles/ here or in the nearest parent that has one (shared in a repository; used once you
            trust that folder, kaiwa/trust.py)
  user      $XDG_CONFIG_HOME/kaiwa/roles/ (else ~/.config/kaiwa/roles/)
  built-in  the roles kaiwa ships (kaiwa/roles/builtin/)
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from .. import trust
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
    root: Path | None = None  # a project's role: the project's folder, which it must not leave

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
    def replaces(self) -> str | None:
        """A project's role used in place of yours or kaiwa's own of the same name: said once, when picked."""
        if self.origin != "project" or not self.shadows:
            return None
        whose = " and ".join("yours" if origin == "user" else "kaiwa's own" for origin in self.shadows)
        return f"the project's role {self.name!r} ({self.path}) is used in place of {whose}"

    @property
    def summary(self) -> str:
        """The first line of the instructions (what `roles` lists)."""
        for line in (self.instructions or "").splitlines():
            if line.strip():
                return line.strip()
        return ""


def project_folder() -> tuple[Path, Path] | None:
    """(the project's roles folder as shown, the project's root) when a trusted project has one, here or above."""
    here = trust.current_folder()
    root = trust.project_root(here)
    if root is None or not trust.is_trusted(root):
        return None
    return (trust.ROLES if root == here else Path(os.path.relpath(root, here)) / trust.ROLES), root


def folders() -> list[tuple[Origin, Traversable]]:
    """The places roles are looked for, the one that wins first."""
    project = project_folder()
    found: list[tuple[Origin, Traversable]] = [("project", project[0])] if project is not None else []
    return [
        *found,
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


def project_problem() -> UsageError | None:
    """A trusted project whose `.kaiwa/roles` (or `.kaiwa`) links outside it: its roles are not read at all."""
    project = project_folder()
    if project is None or not isinstance(project[0], Path) or trust.within(project[0], project[1]):
        return None
    return UsageError(
        f"{project[0]}/ links outside the project {project[1]}; its roles are not read",
        f"make {trust.ROLES}/ a folder inside the project",
    )


def role_files() -> dict[str, RoleFile]:
    """Every role name, with the file that wins for it, by name."""
    chosen: dict[str, RoleFile] = {}
    project = project_folder()
    for origin, folder in folders():
        root = project[1] if origin == "project" and project is not None else None
        if root is not None and not trust.within(Path(str(folder)), root):
            continue  # project_problem() says so
        for name, path in _names_in(folder).items():
            if name in chosen:
                winner = chosen[name]
                chosen[name] = dataclasses.replace(winner, shadows=(*winner.shadows, origin))
            else:
                chosen[name] = RoleFile(name, origin, path, root=root)
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
    """A project's role is read from inside the project only, every link followed: a repository's link
    (`review.md → ~/.aws/credentials`, or `.kaiwa/roles → ../../notes`) would show that file in `roles show` and
    send it to the model as instructions. And no role is huge."""
    path = found.path
    if not isinstance(path, Path):
        return  # kaiwa's own
    if found.root is not None and not trust.within(path, found.root):
        raise UsageError(
            f"{where} links to a file outside the project ({found.root}); a project's roles are read only from it",
            "copy the file into .kaiwa/roles/ instead of linking to it",
        )
    try:
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
        raise project_problem() or unknown_role(name, list(files))
    return read_role(found)


def load_roles() -> tuple[list[Role], list[UsageError]]:
    """Every role that reads well, and a one-line error for each that does not."""
    roles: list[Role] = []
    problems: list[UsageError] = [problem] if (problem := project_problem()) is not None else []
    for found in role_files().values():
        try:
            roles.append(read_role(found))
        except UsageError as error:
            problems.append(error)
    return roles, problems
