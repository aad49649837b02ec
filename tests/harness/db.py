"""Reading a test's SQLite store directly, as the SDK stored it (the tests' view under the store's interface)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


def stored_items(db: Path | str, session_id: str | None = None) -> list[dict[str, Any]]:
    """The session's items in `agent_messages`, in order, decoded (no session: every item in the file). A store
    that was never written (no file, no table) holds none."""
    if not Path(db).exists():
        return []
    conn = sqlite3.connect(db)
    try:
        if session_id is None:
            rows = conn.execute("SELECT message_data FROM agent_messages ORDER BY id")
        else:
            rows = conn.execute(
                "SELECT message_data FROM agent_messages WHERE session_id = ? ORDER BY id", (session_id,)
            )
        return [json.loads(r[0]) for r in rows]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def stored_texts(db: Path | str, session_id: str) -> list[tuple[str, str]]:
    """(role, text) of each item stored for the session (an item without a role: its type)."""
    out = []
    for item in stored_items(db, session_id):
        content = item.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
        out.append((item.get("role", item.get("type")), text))
    return out


def turn_rows(db: Path, session_id: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT input_tokens, output_tokens, reasoning_tokens, cached_tokens, cost, request_ids"
            " FROM kaiwa_turns WHERE session_id=? ORDER BY id",
            (session_id,),
        ).fetchall()
