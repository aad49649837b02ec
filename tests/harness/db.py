"""Reading a test's SQLite store directly, as the SDK stored it (the tests' view under the store's interface)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


def stored_items(db: Path, session_id: str) -> list[dict[str, Any]]:
    """The session's items in `agent_messages`, in order, decoded."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT message_data FROM agent_messages WHERE session_id = ? ORDER BY id", (session_id,))
        return [json.loads(r[0]) for r in rows]
    finally:
        conn.close()
