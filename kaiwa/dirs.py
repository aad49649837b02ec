"""Where kaiwa keeps a user's state: KAIWA_STATE_DIR, else ~/.local/state/kaiwa (created 0700).

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


def make_private_dir(path: str) -> None:
    """Create `path` (and its parents) 0700 whatever the process umask."""
    old = os.umask(0o077)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    finally:
        os.umask(old)
