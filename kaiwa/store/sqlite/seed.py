"""Conversations the original chat.py left in the current folder (`./sessions.sqlite3`), found once.

kaiwa keeps conversations in its data folder now (kaiwa/dirs.py). A `sessions.sqlite3` in the folder kaiwa runs in
is the file the original script wrote there: kaiwa says once where it is and which command copies it in, and never
copies it by itself (a cloned repository or a shared folder may hold one that is not the user's).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ...settings import DB_NAME
from ...words import program
from .owned import open_owned

SEEN = "found-stores"  # in the data folder: one `device:inode` line per file already pointed out


def seed_notice(db: Path, cwd: Path) -> str | None:
    """The line about `cwd`'s sessions.sqlite3 the first time it is seen (None: none there, or said before)."""
    here = cwd / DB_NAME
    try:
        st = os.lstat(here)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or os.path.samefile(here, db):
            return None
    except OSError:
        return None
    key = f"{st.st_dev}:{st.st_ino}"
    seen = db.parent / SEEN
    try:
        fd = open_owned(seen, os.O_RDWR | os.O_APPEND)
        with os.fdopen(fd, "r+", encoding="utf-8") as f:
            if key in f.read().split():
                return None
            f.write(key + "\n")
    except (OSError, ValueError):
        return None  # never worth failing a turn over a notice
    return (
        f"kaiwa: {here} holds conversations from before kaiwa kept them in {db.parent}; copy them in with"
        f" `{program()} sessions migrate --from {here}` (the file is left as it is; said once)"
    )
