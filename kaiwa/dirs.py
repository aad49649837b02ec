"""Where kaiwa keeps a user's files: its state (KAIWA_STATE_DIR, else ~/.local/state/kaiwa) and its data, the
conversations ($XDG_DATA_HOME/kaiwa, else ~/.local/share/kaiwa); both created 0700.

`os` only: the warm client (kaiwa/warm/client.py) finds its socket folder here before any other import.
"""

from __future__ import annotations

import os


def state_dir_path() -> str:
    """Where the state folder is, whether or not it exists yet."""
    raw = os.environ.get("KAIWA_STATE_DIR", "").strip()
    return os.path.expanduser(raw) if raw else os.path.join(os.path.expanduser("~"), ".local", "state", "kaiwa")


def state_dir() -> str:
    path = state_dir_path()
    if not os.path.isdir(path):
        make_private_dir(path)
    return path


def data_dir() -> str:
    """Where conversations live unless SESSION_DB_PATH says otherwise; not created here (the store does, on use).
    A relative XDG_DATA_HOME is ignored, as the XDG spec says."""
    raw = os.path.expanduser(os.environ.get("XDG_DATA_HOME", "").strip())
    base = raw if os.path.isabs(raw) else os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "kaiwa")


def make_private_dir(path: str) -> None:
    """Create `path` (and its parents) 0700 whatever the process umask."""
    old = os.umask(0o077)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    finally:
        os.umask(old)
