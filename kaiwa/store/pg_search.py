"""Search on Postgres: full-text search (tsvector over the SDK's rows, GIN-indexed) plus a substring pass.

Postgres full-text search finds words ("terraform errors" matches "Terraform error", ranked by words not
characters), but it drops what its parser cannot split into words: a Japanese phrase inside a longer run of
characters, stop words, parts of words. So the same words are also looked for as plain substrings, each of them
in the message (ILIKE, as SQLite's store does; not indexed: a scan of message text, run only when full-text
search found fewer sessions than asked for).
One hit per session (its newest matching message), newest session first, each with a snippet.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from .pg_schema import SEARCH_VECTOR, TS_CONFIG

MARK_START, MARK_END = "", ""  # plain, as on SQLite (the CLI may highlight the words itself)
SNIPPET_CHARS = 60  # on each side of a substring match
_HEADLINE = 'StartSel="", StopSel="", MaxWords=24, MinWords=10, ShortWord=2, MaxFragments=1'

_FTS = text(
    f"""
    WITH q AS (SELECT websearch_to_tsquery('{TS_CONFIG}', :q) AS query),
    hits AS (
        SELECT DISTINCT ON (m.session_id) m.session_id, m.id
        FROM agent_messages m CROSS JOIN q
        WHERE {SEARCH_VECTOR} @@ q.query
        ORDER BY m.session_id, m.id DESC
    )
    SELECT s.session_id,
           ts_headline('{TS_CONFIG}', kaiwa_item_text(m.message_data), q.query, '{_HEADLINE}') AS snippet
    FROM hits JOIN kaiwa_sessions s ON s.session_id = hits.session_id
    JOIN agent_messages m ON m.id = hits.id CROSS JOIN q
    WHERE numnode(q.query) > 0
    ORDER BY s.updated_at DESC
    LIMIT :limit
    """
)

_SUBSTRING = text(
    """
    WITH hits AS (
        SELECT DISTINCT ON (m.session_id) m.session_id, kaiwa_item_text(m.message_data) AS body
        FROM agent_messages m
        WHERE m.session_id IN (SELECT session_id FROM kaiwa_sessions)
          AND NOT (m.session_id = ANY(:skip))
          AND m.message_data ILIKE ANY(:raw)
          AND kaiwa_item_text(m.message_data) ILIKE ALL(:patterns)
        ORDER BY m.session_id, m.id DESC
    )
    SELECT hits.session_id, hits.body FROM hits JOIN kaiwa_sessions s ON s.session_id = hits.session_id
    ORDER BY s.updated_at DESC
    LIMIT :limit
    """
).bindparams(
    bindparam("skip", type_=ARRAY(Text)),
    bindparam("patterns", type_=ARRAY(Text)),
    bindparam("raw", type_=ARRAY(Text)),
)


def _like_pattern(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def raw_patterns(words: list[str]) -> list[str]:
    """A cheap necessary condition on the stored JSON text, so that only candidate rows are decoded: the longest
    word as the SDK's JSON spells it (ensure_ascii: 東 is \\u6771) or as it is (other writers). Without a usable
    word (a cased non-ASCII letter, whose other case JSON escapes differently), every row is a candidate."""
    usable = [w for w in words if all(c.isascii() or c.lower() == c.upper() for c in w)]
    if not usable:
        return ["%"]
    word = max(usable, key=len)
    return list(dict.fromkeys([_like_pattern(word), _like_pattern(json.dumps(word)[1:-1])]))


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
                "raw": raw_patterns(needle.split()),
                "skip": skip,
                "limit": limit - len(found),
            },
        )
        found.extend((session_id, substring_snippet(body, needle)) for session_id, body in rows)
    return found
