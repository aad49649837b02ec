"""The Postgres store's tables, as SQLAlchemy Core metadata (imported only by kaiwa/store/postgres.py).

- `agent_sessions` / `agent_messages`: the Agents SDK's own tables, column for column as
  `agents.extensions.memory.SQLAlchemySession` defines and creates them (so the SDK reads a kaiwa session, and a
  session the SDK wrote is a kaiwa session). Defined again here so that listing sessions does not import the SDK;
  tests/store/test_postgres_store.py checks the two definitions create the same tables.
- `kaiwa_sessions`, `kaiwa_turns`: what kaiwa keeps on top (the same fields as the SQLite store), `kaiwa_meta`:
  the schema version.
- Full-text search needs no table of its own: an expression index over the SDK's rows
  (`to_tsvector(kaiwa_item_text(message_data))`), so it can never drift from them, whoever writes or deletes.
"""

from __future__ import annotations

from sqlalchemy import (
    TIMESTAMP,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

SCHEMA_VERSION = 1
TS_CONFIG = "english"  # stems English words; text it drops (CJK runs, stop words) is found by the ILIKE fallback

metadata = MetaData()

agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("session_id", String, primary_key=True),
    Column("created_at", TIMESTAMP(timezone=False), server_default=text("CURRENT_TIMESTAMP"), nullable=False),
    Column(
        "updated_at",
        TIMESTAMP(timezone=False),
        server_default=text("CURRENT_TIMESTAMP"),
        onupdate=text("CURRENT_TIMESTAMP"),
        nullable=False,
    ),
)

agent_messages = Table(
    "agent_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String, ForeignKey("agent_sessions.session_id", ondelete="CASCADE"), nullable=False),
    Column("message_data", Text, nullable=False),
    Column("created_at", TIMESTAMP(timezone=False), server_default=text("CURRENT_TIMESTAMP"), nullable=False),
    Index("idx_agent_messages_session_time", "session_id", "created_at"),
    sqlite_autoincrement=True,
)

kaiwa_meta = Table(
    "kaiwa_meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

kaiwa_sessions = Table(
    "kaiwa_sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("created_at", Float(53), nullable=False),  # seconds since the epoch (the server's clock)
    Column("updated_at", Float(53), nullable=False),
    Column("model", Text, nullable=False),
    Column("title", Text, nullable=False, server_default=""),
    Column("instructions", Text),
    Column("origin", Text),
    Index("idx_kaiwa_sessions_updated", "updated_at"),
)

kaiwa_turns = Table(
    "kaiwa_turns",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "session_id", Text, ForeignKey("kaiwa_sessions.session_id", ondelete="CASCADE"), nullable=False, index=False
    ),
    Column("created_at", Float(53), nullable=False),
    Column("model", Text, nullable=False),
    Column("input_tokens", BigInteger, nullable=False, server_default="0"),
    Column("output_tokens", BigInteger, nullable=False, server_default="0"),
    Column("reasoning_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cached_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cost", Float(53)),
    Column("request_ids", Text, nullable=False, server_default=""),
    Column("duration_ms", BigInteger, nullable=False, server_default="0"),
    Index("idx_kaiwa_turns_session", "session_id", "id"),
)

# The text of a stored item that search looks at: user and assistant message text, nothing else (tool calls,
# reasoning and outputs are not "messages"). IMMUTABLE so it can back an index; a row that is not a JSON
# object (another writer's) yields NULL instead of failing its INSERT.
ITEM_TEXT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION kaiwa_item_text(data text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
DECLARE
    j jsonb;
BEGIN
    BEGIN
        j := data::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
    IF jsonb_typeof(j) <> 'object' OR NOT (j ? 'role') OR j->>'role' NOT IN ('user', 'assistant') THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(j->'content') = 'string' THEN
        RETURN j->>'content';
    ELSIF jsonb_typeof(j->'content') = 'array' THEN
        RETURN (SELECT string_agg(p->>'text', E'\n') FROM jsonb_array_elements(j->'content') AS p
                WHERE jsonb_typeof(p) = 'object' AND jsonb_typeof(p->'text') = 'string');
    END IF;
    RETURN NULL;
END
$fn$
"""

SEARCH_VECTOR = f"to_tsvector('{TS_CONFIG}'::regconfig, coalesce(kaiwa_item_text(message_data), ''))"
SEARCH_INDEX = f"CREATE INDEX IF NOT EXISTS kaiwa_agent_messages_fts ON agent_messages USING gin (({SEARCH_VECTOR}))"

# Serialises the first open of an empty database by several processes at once (any fixed 64-bit number).
SCHEMA_LOCK_KEY = 0x6B61_6977_6100_0001
# Namespace mixed into the per-session advisory lock keys, so other applications' advisory locks never collide.
SESSION_LOCK_PREFIX = "kaiwa-session:"
