"""Where the warm process listens: `$XDG_RUNTIME_DIR/kaiwa`, else `<state folder>/warm`, always a 0700 folder
owned by the user; one socket per installation (interpreter + package folder), so a checkout and an installed
`kaiwa` each keep their own.  `os` and `zlib` only."""

from __future__ import annotations

import os
import stat
import sys
import zlib

from .. import dirs

SUN_PATH_MAX = 107  # AF_UNIX addresses longer than this do not fit in sockaddr_un


class Unavailable(Exception):
    """Why a call cannot be handed over (said with --debug); `spawn`: worth starting a warm process; `names`: the
    variables the warm process's imports read, when a warm process of the call's own values could serve it."""

    def __init__(self, reason: str, spawn: bool = False, names: list[str] | None = None) -> None:
        super().__init__(reason)
        self.spawn = spawn
        self.names = names


def package_dir() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def install_key(package: str | None = None) -> str:
    raw = f"{sys.executable}\0{package or package_dir()}".encode(errors="surrogateescape")
    return f"{zlib.crc32(raw):08x}"


def runtime_dir() -> str:
    """The socket folder, created 0700 if missing; refused when someone else could reach into it."""
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    path = os.path.join(xdg, "kaiwa") if xdg and os.path.isdir(xdg) else os.path.join(dirs.state_dir(), "warm")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        dirs.make_private_dir(path)
        info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise Unavailable(f"{path} is not a private folder of this user (0700)")
    return path


class Files:
    """The files of one installation's warm process, in the runtime folder; `warm-<key>-<variant>.*` are those of
    a warm process of the same installation serving another import-time environment."""

    def __init__(self, folder: str, key: str | None = None) -> None:
        self.folder = folder
        self.key = key or install_key()
        stem = os.path.join(folder, f"warm-{self.key}")
        self.socket = stem + ".sock"
        self.lock = stem + ".lock"
        self.info = stem + ".json"  # pid, started, python: no secrets
        self.log = stem + ".log"  # events only: never argv, environment or output
        self.failed = stem + ".failed"  # the stamp a warm process failed to start with

    def address(self) -> tuple[str, int | None]:
        """The socket's address; a long folder is reached through /proc/self/fd (Linux) to fit sun_path."""
        if len(self.socket.encode()) <= SUN_PATH_MAX:
            return self.socket, None
        fd = os.open(self.folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return f"/proc/self/fd/{fd}/{os.path.basename(self.socket)}", fd


def variants(files: Files) -> list[Files]:
    """The warm processes of this installation for other import-time environments (by their sockets)."""
    try:
        names = os.listdir(files.folder)
    except OSError:
        return []
    prefix = f"warm-{files.key}-"
    return [Files(files.folder, n[5:-5]) for n in sorted(names) if n.startswith(prefix) and n.endswith(".sock")]


def exit_file(folder: str, pid: int) -> str:
    """Where a call's child leaves its exit code when the warm process died under the call."""
    return os.path.join(folder, f"exit-{pid}")
