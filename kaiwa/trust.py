"""Which folders' own files kaiwa may act on: a folder's `.env.app`, `.env.litellm`,
`secrets/vertex-service-account.json`, `.kaiwa/roles/` and the MCP config its `.env.app` names come with the folder
(a cloned repository ships them), so they are used only once you trust that folder (`chat.py trust`), as direnv
asks `direnv allow`. A trust is kept by the folder's real path and a hash of those files' contents: any change
asks again.

kaiwa's own checkout (the folder that holds the running `kaiwa` package, as `uv run chat.py` beside `.env.app`) is
trusted without asking: whoever runs its code already trusts that folder.

Also the one rule for "is this path inside that folder": `within`, which resolves every component of both.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .dirs import state_dir
from .errors import KaiwaError, UsageError
from .words import program

PROJECT_DIR = ".kaiwa"
ROLES = Path(PROJECT_DIR) / "roles"
# The files a folder brings that kaiwa reads (the roles and the MCP config .env.app names are added to these).
FOLDER_FILES = (".env.app", ".env.litellm", os.path.join("secrets", "vertex-service-account.json"))
RECORDS = "trusted-folders.json"
READ_LIMIT = 4 * 1024 * 1024  # bytes of the trust records read (a link to /dev/zero must end)
State = Literal["own", "trusted", "changed", "untrusted"]


def current_folder() -> Path:
    """The folder kaiwa runs in; a deleted one is one line (every relative path would fail later, oddly)."""
    try:
        return Path(os.getcwd())
    except FileNotFoundError:
        raise UsageError(
            "the current folder no longer exists (it was deleted or moved away)",
            "cd to a folder that exists (e.g. cd ~) and run it again",
        ) from None


def within(path: Path, root: Path) -> bool:
    """`path` is inside `root` once every link in either is followed (`.kaiwa/roles` itself may be a link)."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))
    except (OSError, ValueError):
        return False


def project_root(start: Path) -> Path | None:
    """The nearest of `start` and its parents that holds `.kaiwa/`, as git finds `.git`: the search stops at a
    repository's root (a folder holding `.git`), so a repository never picks up a parent's roles."""
    for folder in (start, *start.parents):
        if os.path.lexists(folder / PROJECT_DIR):
            return folder
        if os.path.lexists(folder / ".git"):
            return None
    return None


def own_checkout() -> Path:
    """The folder holding the running kaiwa package (site-packages when installed)."""
    return Path(__file__).resolve().parent.parent


def _read(path: Path) -> bytes | None:
    """A regular file's bytes, all of them (links followed); None when there is none (or a FIFO, a device)."""
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _file_hash(path: Path) -> bytes | None:
    """A regular file's SHA-256 over all of its bytes, read in pieces (links followed); None when there is none.
    All of it: what kaiwa reads is the whole file, so a change past any prefix must count as a change."""
    try:
        if not path.is_file():
            return None
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest().encode()
    except OSError:
        return None


def named_mcp_config(folder: Path, env_app: bytes | None) -> Path | None:
    """The MCP config a folder's `.env.app` names (KAIWA_MCP_CONFIG), relative to the folder."""
    if not env_app:
        return None
    from dotenv import dotenv_values

    with contextlib.suppress(UnicodeDecodeError):
        raw = (dotenv_values(stream=io.StringIO(env_app.decode("utf-8"))).get("KAIWA_MCP_CONFIG") or "").strip()
        if raw:
            return folder / os.path.expanduser(raw)
    return None


def role_files_in(folder: Path) -> list[Path]:
    roles = folder / ROLES
    try:
        return sorted(p for p in roles.iterdir() if p.name.endswith(".md")) if roles.is_dir() else []
    except OSError:
        return []


def fingerprint(folder: Path) -> str:
    """A hash of every file of `folder` that kaiwa would read: a change to any of them means asking again."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes | None) -> None:
        digest.update(f"{label}\0{-1 if data is None else len(data)}\0".encode("utf-8", "surrogateescape"))
        digest.update(data or b"")

    env_app = _read(folder / ".env.app")  # read whole, as the settings read it: it names the MCP config
    for name in FOLDER_FILES:
        add(name, env_app if name == ".env.app" else _file_hash(folder / name))
    mcp = named_mcp_config(folder, env_app)
    add(f"mcp:{mcp}", _file_hash(mcp) if mcp is not None else None)
    for role in role_files_in(folder):
        add(f"role:{role.name}", _file_hash(role))
    return digest.hexdigest()


# -- the records: kaiwa's state folder, one JSON file, 0600 ------------------------------------------------------
def _records_path() -> Path:
    return Path(state_dir()) / RECORDS


def load_records() -> dict[str, dict[str, object]]:
    """Trusted folders by real path. A file that is not the user's own, or that others may write, trusts nothing."""
    path = _records_path()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return {}
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return {}
        try:
            data = json.loads(handle.read(READ_LIMIT))
        except (ValueError, RecursionError):
            return {}
    folders = data.get("folders") if isinstance(data, dict) else None
    return {k: v for k, v in folders.items() if isinstance(v, dict)} if isinstance(folders, dict) else {}


def save_records(records: dict[str, dict[str, object]]) -> None:
    path = _records_path()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps({"version": 1, "folders": records}, indent=1, ensure_ascii=False).encode()
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise KaiwaError(f"cannot write {path}: {error.strerror or error}", "check kaiwa's state folder") from None


def real(folder: Path) -> str:
    return os.path.realpath(folder)


def state(folder: Path, records: dict[str, dict[str, object]] | None = None) -> State:
    if real(folder) == str(own_checkout()):
        return "own"
    record = (load_records() if records is None else records).get(real(folder))
    if record is None:
        return "untrusted"
    return "trusted" if record.get("sha256") == fingerprint(folder) else "changed"


def is_trusted(folder: Path) -> bool:
    return state(folder) in ("own", "trusted")


def trust(folder: Path) -> None:
    records = load_records()
    records[real(folder)] = {"sha256": fingerprint(folder), "trusted_at": int(time.time())}
    save_records(records)


def revoke(folder: Path) -> bool:
    records = load_records()
    if records.pop(real(folder), None) is None:
        return False
    save_records(records)
    return True


# -- what this call would read, and what it leaves out ------------------------------------------------------------
@dataclass(frozen=True)
class Ignored:
    """What one untrusted folder brought that kaiwa left out."""

    folder: Path
    state: State  # "untrusted" or "changed"
    what: tuple[str, ...]  # e.g. "LITELLM_BASE_URL, KAIWA_MCP_CONFIG from ./.env.app", "the roles in .kaiwa/roles/"


def folders_here() -> list[Path]:
    """The folders whose files this call reads: the current one (`.env.app`, `.env.litellm`) and the project root
    above it (`.kaiwa/`), once each."""
    here = current_folder()
    root = project_root(here)
    return [here] if root is None or real(root) == real(here) else [here, root]


def notice(ignored: list[Ignored]) -> str | None:
    """The one line that says what was left out and how to trust it."""
    if not ignored:
        return None
    what = "; ".join(part for item in ignored for part in item.what)
    names = " and ".join(str(item.folder) for item in ignored)
    if all(item.state == "changed" for item in ignored):
        return (
            f"ignored {what}: {names} changed since you trusted it — look at what changed, then `{program()} trust`"
            " to use it again"
        )
    return f"ignored {what}: {names} is not trusted — if you trust it, `{program()} trust` (asked again if it changes)"
