"""Role files for tests: written into a project's ./.kaiwa/roles/ or a user's $XDG_CONFIG_HOME/kaiwa/roles/."""

from __future__ import annotations

from pathlib import Path


def write_role(folder: Path, name: str, body: str, front: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text((f"---\n{front}---\n" if front is not None else "") + body, encoding="utf-8")
    return path


def project_roles(cwd: Path) -> Path:
    return cwd / ".kaiwa" / "roles"


def user_roles(config_home: Path) -> Path:
    return config_home / "kaiwa" / "roles"
