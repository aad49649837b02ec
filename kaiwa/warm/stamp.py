"""What a warm process must share with a call to serve it: the code, the interpreter and its start-up settings.

- code: (path, size, mtime, ctime, inode) of every file of the kaiwa package, and in a checkout the locks,
  pyproject.toml and litellm_config.yaml beside it. Any edit, `uv sync` or reinstall changes it.
- interpreter: path and version.
- context: namespaces, root, ids, groups and resource limits (stat and /proc reads);
- flags (-X, -W, -O, …) and the start-up environment (PYTHON*, LANG, LC_ALL, LC_CTYPE), read once at start.
The server compares: other code or another interpreter retires the warm process (it is stale); another context,
other flags or start-up settings only make that call run cold. `os` and `sys` only.
"""

from __future__ import annotations

import os
import sys

from .paths import package_dir

ROOT_FILES = ("uv.lock", "pyproject.toml", "litellm_config.yaml", os.path.join("proxy", "uv.lock"))
STARTUP_ENV = ("LANG", "LC_ALL", "LC_CTYPE")
NAMESPACES = ("mnt", "user", "pid", "net", "uts", "ipc", "cgroup")

Entry = tuple[str, int, int, int, int]


def _files(folder: str, prefix: str, out: list[Entry]) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=False):
                _files(entry.path, f"{prefix}{entry.name}/", out)
            else:
                st = entry.stat()
                out.append((prefix + entry.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))


def code_stamp(package: str | None = None) -> list[Entry]:
    package = package or package_dir()
    out: list[Entry] = []
    _files(package, "", out)
    root = os.path.dirname(package)
    if os.path.isfile(os.path.join(root, "pyproject.toml")):  # a checkout (an installed wheel has no locks)
        for name in ROOT_FILES:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            out.append((f"../{name}", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    out.sort()
    return out


def interpreter() -> tuple[str, str]:
    return (sys.executable, sys.version)


def flags() -> tuple[object, ...]:
    """How this interpreter was started (-X importtime, -O, -W, …): a call started otherwise runs cold."""
    return (
        tuple(sys.flags),
        tuple(sorted((str(k), str(v)) for k, v in sys._xoptions.items())),
        tuple(sys.warnoptions),
    )


def context() -> tuple[object, ...]:
    """Where and as whom a process runs: its namespaces (a container, `unshare`), its root (chroot), its ids and
    groups, its resource limits. A child of the warm process has the warm process's, not the caller's."""
    namespaces = []
    for name in NAMESPACES:
        try:
            namespaces.append(os.stat(f"/proc/self/ns/{name}").st_ino)
        except OSError:
            namespaces.append(0)
    root = os.stat("/")
    try:
        with open("/proc/self/limits") as f:
            limits = f.read()
    except OSError:
        limits = ""
    ids = (os.getuid(), os.geteuid(), os.getgid(), os.getegid(), tuple(sorted(os.getgroups())))
    return (tuple(namespaces), root.st_dev, root.st_ino, ids, limits)


def variant(key: str, names: list[str], env: dict[str, str]) -> str:
    """The key of the warm process for this call's own import-time environment: its start-up settings, the values
    of `names` (what the libraries read while loading) and its context. The warm process checks them all the same:
    two environments sharing a key only share a cold run."""
    import zlib  # paths.py has imported it already

    seen = (startup_env(env), [(name, env.get(name)) for name in names], context())
    return f"{key}-{zlib.crc32(repr(seen).encode()):08x}"


def startup_env(env: dict[str, str]) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in env.items() if k.startswith("PYTHON") or k in STARTUP_ENV)
