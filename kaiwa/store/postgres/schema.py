"""The Postgres store's tables, as SQLAlchemy Core metadata (imported only by kaiwa/store/postgres/store.py).

- `agent_sessions` / `agent_messages`: the Agents SDK's own tables, column for column as
  `agents.extensions.memory.SQLAlchemySession` defines and creates them (so the SDK reads a kaiwa session, and a
  session the SDK wrote is a kaiwa session). Defined again here so that listing sessions does not import the SDK;
  tests/store/test_postgres_store.py checks the two definitions create the same tables.
- `kaiwa_sessions`, `kaiwa_turns`: what kaiwa keeps on top (the same fields as the SQLite store), `kaiwa_meta`:
  the schema version.
- `kaiwa_search`: the message text of each SDK row (user and assistant text only, decoded from its JSON) and its
  tsvector (GIN-indexed), kept in step by triggers on `agent_messages` and a cascading foreign key, so it follows
  the SDK's rows whoever writes or deletes them (kaiwa, the SDK's own session class, `pop_item`).
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
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.types import TypeDecorator


class PlainText(TypeDecorator[str]):
    """TEXT that takes any Python string: Postgres refuses a NUL character in text (SQLite stores it), so a NUL in
    a session's metadata (its instructions from a role file, a model name) is written as U+FFFD instead of failing
    the turn. The conversation's items are JSON text, where NUL is the escape \\u0000: kept exactly."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value


# 1: search by an expression index over agent_messages; 2: kaiwa_search; 3: kaiwa_sessions.role and
# kaiwa_turns.cache_write_tokens; 4: kaiwa_turns.spender (whose key paid) and an index on created_at;
# 5: kaiwa_turns.attempts and .outcome
SCHEMA_VERSION = 5
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
    Column("model", PlainText, nullable=False),
    Column("title", PlainText, nullable=False, server_default=""),
    Column("instructions", PlainText),
    Column("origin", PlainText),
    Column("role", PlainText),
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
    Column("model", PlainText, nullable=False),
    Column("input_tokens", BigInteger, nullable=False, server_default="0"),
    Column("output_tokens", BigInteger, nullable=False, server_default="0"),
    Column("reasoning_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cached_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cost", Float(53)),
    Column("request_ids", PlainText, nullable=False, server_default=""),
    Column("duration_ms", BigInteger, nullable=False, server_default="0"),
    Column("cache_write_tokens", BigInteger, nullable=False, server_default="0"),
    Column("attempts", BigInteger, nullable=False, server_default="1"),
    Column("outcome", Text, nullable=False, server_default=""),
    Column("spender", Text, nullable=False, server_default=""),
    Index("idx_kaiwa_turns_session", "session_id", "id"),
    Index("idx_kaiwa_turns_created", "created_at"),
)

kaiwa_search = Table(
    "kaiwa_search",
    metadata,
    Column("message_id", Integer, ForeignKey("agent_messages.id", ondelete="CASCADE"), primary_key=True),
    Column("session_id", String, nullable=False),
    Column("body", Text, nullable=False),
    Column("tsv", TSVECTOR, nullable=False),
    Index("idx_kaiwa_search_tsv", "tsv", postgresql_using="gin"),
    Index("idx_kaiwa_search_session", "session_id", "message_id"),
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

# Rows in, rows searchable: one INSERT … SELECT per statement (the SDK and kaiwa insert a turn's items in one
# statement); an UPDATE of message_data (the SDK's compaction rewrites rows) replaces the row's entry. Deletes
# cascade through the foreign key.
SEARCH_TRIGGERS = [
    f"""
CREATE OR REPLACE FUNCTION kaiwa_search_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO kaiwa_search (message_id, session_id, body, tsv)
    SELECT n.id, n.session_id, t.body, to_tsvector('{TS_CONFIG}'::regconfig, t.body)
    FROM kaiwa_new_rows AS n CROSS JOIN LATERAL (SELECT kaiwa_item_text(n.message_data) AS body) AS t
    WHERE t.body <> '';
    RETURN NULL;
END
$fn$
""",
    f"""
CREATE OR REPLACE FUNCTION kaiwa_search_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    body text := kaiwa_item_text(NEW.message_data);
BEGIN
    DELETE FROM kaiwa_search WHERE message_id = OLD.id;
    IF body <> '' THEN
        INSERT INTO kaiwa_search (message_id, session_id, body, tsv)
        VALUES (NEW.id, NEW.session_id, body, to_tsvector('{TS_CONFIG}'::regconfig, body));
    END IF;
    RETURN NULL;
END
$fn$
""",
    "DROP TRIGGER IF EXISTS kaiwa_search_insert ON agent_messages",
    "CREATE TRIGGER kaiwa_search_insert AFTER INSERT ON agent_messages REFERENCING NEW TABLE AS kaiwa_new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION kaiwa_search_insert()",
    "DROP TRIGGER IF EXISTS kaiwa_search_update ON agent_messages",
    "CREATE TRIGGER kaiwa_search_update AFTER UPDATE OF message_data ON agent_messages"
    " FOR EACH ROW EXECUTE FUNCTION kaiwa_search_update()",
]

# Schema 1 searched through an expression index on agent_messages; 2 moves it to kaiwa_search.
MIGRATE_TO_2 = [
    "DROP INDEX IF EXISTS kaiwa_agent_messages_fts",
    f"""
INSERT INTO kaiwa_search (message_id, session_id, body, tsv)
SELECT m.id, m.session_id, t.body, to_tsvector('{TS_CONFIG}'::regconfig, t.body)
FROM agent_messages AS m CROSS JOIN LATERAL (SELECT kaiwa_item_text(m.message_data) AS body) AS t
WHERE t.body <> ''
ON CONFLICT (message_id) DO NOTHING
""",
]

# Schema 3: two columns (create_all makes them on new tables; IF NOT EXISTS makes these a no-op there).
MIGRATE_TO_3 = [
    "ALTER TABLE kaiwa_sessions ADD COLUMN IF NOT EXISTS role TEXT",
    "ALTER TABLE kaiwa_turns ADD COLUMN IF NOT EXISTS cache_write_tokens BIGINT NOT NULL DEFAULT 0",
]

# Schema 4: whose key paid for a turn (a team's spending is told apart by it), and the period queries' index.
MIGRATE_TO_4 = [
    "ALTER TABLE kaiwa_turns ADD COLUMN IF NOT EXISTS spender TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX IF NOT EXISTS idx_kaiwa_turns_created ON kaiwa_turns (created_at)",
]

# Schema 5: how a turn went (create_all makes them on new tables).
MIGRATE_TO_5 = [
    "ALTER TABLE kaiwa_turns ADD COLUMN IF NOT EXISTS attempts BIGINT NOT NULL DEFAULT 1",
    "ALTER TABLE kaiwa_turns ADD COLUMN IF NOT EXISTS outcome TEXT NOT NULL DEFAULT ''",
]

# Serialises the first open of an empty database by several processes at once (any fixed 64-bit number).
SCHEMA_LOCK_KEY = 0x6B61_6977_6100_0001
# Namespace mixed into the per-session advisory lock keys, so other applications' advisory locks never collide.
SESSION_LOCK_PREFIX = "kaiwa-session:"
