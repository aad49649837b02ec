"""Full-text search over message text: SQLite FTS5 with the trigram tokenizer (`kaiwa_fts`, kept in step with
`agent_messages` by triggers — see `schema.py`).

Trigrams find any substring of three characters or more, in any script (Japanese has no spaces between words);
shorter words are matched with LIKE on the same table. Every word must occur in the message.
"""

from __future__ import annotations

import sqlite3

SNIPPET_TOKENS = 40  # trigram tokens: about this many characters around the match
CONTEXT = 30  # characters either side of a short word's match (no snippet() without MATCH)


def _phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _cut_around(text: str, word: str) -> str:
    at = text.lower().find(word.lower())
    if at < 0:
        return text[: 2 * CONTEXT]
    start, end = max(0, at - CONTEXT), min(len(text), at + len(word) + CONTEXT)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def search(conn: sqlite3.Connection, text: str, max_rows: int) -> list[tuple[str, str]]:
    """(session_id, snippet) for each session with a matching message, its newest match first."""
    words = text.split()
    if not words:
        return []
    long = [w for w in words if len(w) >= 3]
    short = [w for w in words if len(w) < 3]
    where: list[str] = []
    params: list[object] = []
    if long:
        where.append("kaiwa_fts MATCH ?")
        params.append(" AND ".join(_phrase(w) for w in long))
    for word in short:
        where.append("text LIKE ? ESCAPE '\\'")
        params.append(_like(word))
    shown = f"snippet(kaiwa_fts, 0, '', '', '…', {SNIPPET_TOKENS})" if long else "text"
    sql = f"SELECT session_id, {shown} FROM kaiwa_fts WHERE {' AND '.join(where)} ORDER BY rowid DESC LIMIT ?"
    seen: dict[str, str] = {}
    for session_id, shown_text in conn.execute(sql, (*params, max_rows)):
        if session_id not in seen:
            seen[session_id] = " ".join((shown_text if long else _cut_around(shown_text, short[0])).split())
    return list(seen.items())
