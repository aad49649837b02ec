"""Role files for tests: written into a project's ./.kaiwa/roles/ or a user's $XDG_CONFIG_HOME/kaiwa/roles/."""

from __future__ import annotations

import os
from pathlib import Path

from kaiwa import trust


def write_role(folder: Path, name: str, body: str, front: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text((f"---\n{front}---\n" if front is not None else "") + body, encoding="utf-8")
    return path


def project_roles(cwd: Path) -> Path:
    return cwd / ".kaiwa" / "roles"


def user_roles(config_home: Path) -> Path:
    return config_home / "kaiwa" / "roles"


def trust_folder(folder: Path, state: Path) -> None:
    """What `chat.py trust FOLDER` records (its files as they are now), for a user whose KAIWA_STATE_DIR is `state`."""
    before = os.environ.get("KAIWA_STATE_DIR")
    os.environ["KAIWA_STATE_DIR"] = str(state)
    try:
        trust.trust(folder)
    finally:
        if before is None:
            del os.environ["KAIWA_STATE_DIR"]
        else:
            os.environ["KAIWA_STATE_DIR"] = before
