"""Search on Postgres: full-text search (`kaiwa_search.tsv`, GIN-indexed) plus a substring pass.

Postgres full-text search finds words ("terraform errors" matches "Terraform error", ranked by words not
characters), but it drops what its parser cannot split into words: a Japanese phrase inside a longer run of
characters, stop words, parts of words. So the same words are also looked for as plain substrings, each of them
in the message (ILIKE, as SQLite's store does; not indexed: a scan of the decoded message text — no JSON, no
reasoning or tool payloads — run only when full-text search found fewer sessions than asked for).
One hit per session (its newest matching message), newest session first, each with a snippet.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import TS_CONFIG

MARK_START, MARK_END = "", ""  # plain, as on SQLite (the CLI may highlight the words itself)
SNIPPET_CHARS = 60  # on each side of a substring match
_HEADLINE = 'StartSel="", StopSel="", MaxWords=24, MinWords=10, ShortWord=2, MaxFragments=1'

_FTS = text(
    f"""
    WITH q AS (SELECT websearch_to_tsquery('{TS_CONFIG}', :q) AS query),
    hits AS (
        SELECT DISTINCT ON (k.session_id) k.session_id, k.message_id
        FROM kaiwa_search k CROSS JOIN q
        WHERE k.tsv @@ q.query
        ORDER BY k.session_id, k.message_id DESC
    )
    SELECT s.session_id, ts_headline('{TS_CONFIG}', k.body, q.query, '{_HEADLINE}') AS snippet
    FROM hits JOIN kaiwa_sessions s ON s.session_id = hits.session_id
    JOIN kaiwa_search k ON k.message_id = hits.message_id CROSS JOIN q
    WHERE numnode(q.query) > 0
    ORDER BY s.updated_at DESC
    LIMIT :limit
    """
)

_SUBSTRING = text(
    """
    WITH hits AS (
        SELECT DISTINCT ON (k.session_id) k.session_id, k.body
        FROM kaiwa_search k
        WHERE k.session_id IN (SELECT session_id FROM kaiwa_sessions)
          AND NOT (k.session_id = ANY(:skip))
          AND k.body ILIKE ALL(:patterns)
        ORDER BY k.session_id, k.message_id DESC
    )
    SELECT hits.session_id, hits.body FROM hits JOIN kaiwa_sessions s ON s.session_id = hits.session_id
    ORDER BY s.updated_at DESC
    LIMIT :limit
    """
).bindparams(bindparam("skip", type_=ARRAY(Text)), bindparam("patterns", type_=ARRAY(Text)))


def _like_pattern(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def substring_snippet(body: str, needle: str) -> str:
    """A window of text around the first case-insensitive occurrence of `needle`'s first word."""
    flat = " ".join(body.split())
    match = re.search(re.escape(needle.split()[0]), flat, re.IGNORECASE)
    if match is None:
        return flat[: SNIPPET_CHARS * 2]
    start, end = match.span()
    left = max(0, start - SNIPPET_CHARS)
    right = min(len(flat), end + SNIPPET_CHARS)
    return (
        ("…" if left else "")
        + flat[left:start]
        + MARK_START
        + flat[start:end]
        + MARK_END
        + flat[end:right]
        + ("…" if right < len(flat) else "")
    )


async def search_sessions(conn: AsyncConnection, needle: str, limit: int) -> list[tuple[str, str]]:
    """(session id, snippet) of the sessions whose messages hold `needle`, newest session first."""
    found: list[tuple[str, str]] = []
    rows: Any = await conn.execute(_FTS, {"q": needle, "limit": limit})
    for session_id, snippet in rows:
        found.append((session_id, " ".join((snippet or "").split())))
    if len(found) < limit:
        skip = [sid for sid, _ in found]
        rows = await conn.execute(
            _SUBSTRING,
            {
                "patterns": [_like_pattern(w) for w in needle.split()],
                "skip": skip,
                "limit": limit - len(found),
            },
        )
        found.extend((session_id, substring_snippet(body, needle)) for session_id, body in rows)
    return found
