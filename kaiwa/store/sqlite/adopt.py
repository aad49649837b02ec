"""Adopting a file the Agents SDK's own `SQLiteSession` wrote — what the original chat.py, the script kaiwa replaces,
leaves behind: only `agent_sessions` and `agent_messages`. Its conversations become kaiwa sessions.

Adoption adds kaiwa's tables and rows in the caller's one transaction and keeps every item as it is (no repair:
the whole history goes on). A file with any other table is not the SDK's and stays refused (connect.refuse).

Session ids: kaiwa names sessions by UUID (`--session-id`, short ids, the proxy's session header). A conversation
stored under another name (the SDK takes any string) is renamed to a new UUIDv7 — its rows change their
`session_id`, nothing else — and keeps its old name in `origin`, so `sessions show` tells where it came from. A
UUID written in another case is stored in its canonical form.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field

from ...words import program
from ..base import make_title
from ..ids import canonical, new_session_id
from .schema import create_v1, item_text, migrate

_FIRST_USER_TEXT = f"""
SELECT COALESCE({item_text("f.message_data")}, '') FROM agent_messages f
WHERE f.session_id = m.session_id AND json_valid(f.message_data) AND json_extract(f.message_data, '$.role') = 'user'
ORDER BY f.id LIMIT 1
"""
# Each conversation with items: its times (the SDK's, UTC text; else its items'), the text of its first user message.
CONVERSATIONS = f"""
SELECT m.session_id,
       COALESCE(CAST(strftime('%s', s.created_at) AS REAL), CAST(strftime('%s', MIN(m.created_at)) AS REAL)),
       COALESCE(CAST(strftime('%s', s.updated_at) AS REAL), CAST(strftime('%s', MAX(m.created_at)) AS REAL)),
       ({_FIRST_USER_TEXT})
FROM agent_messages m LEFT JOIN agent_sessions s USING (session_id)
GROUP BY m.session_id
"""


@dataclass
class Adopted:
    conversations: int = 0
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (the SDK's name, the new id)

    def line(self, path: object) -> str:
        text = (
            f"kaiwa: adopted {path}, a session file of the Agents SDK: {self.conversations}"
            f" conversation{'s' * (self.conversations != 1)}, now in `{program()} sessions`"
        )
        if self.renamed:
            names = ", ".join(repr(old) for old, _ in self.renamed[:3]) + (", …" if len(self.renamed) > 3 else "")
            text += f" ({len(self.renamed)} renamed to UUIDs: {names}; `sessions show` keeps the old name)"
        return text


def _rename(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    ids = [
        r[0] for r in conn.execute("SELECT session_id FROM agent_sessions UNION SELECT session_id FROM agent_messages")
    ]
    taken = set(ids)
    renamed: list[tuple[str, str]] = []
    for old in ids:
        new = canonical(str(old))
        if new == old:
            continue
        if new is None or new in taken:
            new = new_session_id()
        taken.add(new)
        for table in ("agent_sessions", "agent_messages"):  # foreign keys are off while a file is migrated
            conn.execute(f"UPDATE {table} SET session_id = ? WHERE session_id = ?", (new, old))
        renamed.append((str(old), new))
    return renamed


def adopt(conn: sqlite3.Connection) -> Adopted:
    """Inside the caller's transaction: kaiwa's tables beside the SDK's, one kaiwa session per conversation."""
    create_v1(conn)  # IF NOT EXISTS: the SDK's own tables stay as they are
    renamed = dict(_rename(conn))
    old_name = {new: old for old, new in renamed.items()}
    now = time.time()
    rows = conn.execute(CONVERSATIONS).fetchall()
    conn.executemany(
        "INSERT INTO kaiwa_sessions (session_id, created_at, updated_at, model, title) VALUES (?, ?, ?, '', ?)",
        [
            (sid, created or now, updated or created or now, make_title(text or ""))
            for sid, created, updated, text in rows
        ],
    )
    migrate(conn, 1, repair=False)
    conn.executemany(
        "UPDATE kaiwa_sessions SET origin = ? WHERE session_id = ?",
        [
            (f"adopted from the Agents SDK's session {old_name[sid]!r}" if sid in old_name else "adopted", sid)
            for sid, *_ in rows
        ],
    )
    return Adopted(len(rows), [(old, new) for old, new in renamed.items() if any(new == r[0] for r in rows)])
