"""The Agents SDK's own session classes on a kaiwa store's tables, for tests that prove the SDK reads what kaiwa
wrote (and kaiwa what the SDK wrote). kaiwa itself never hands SDK objects out of its store."""

from __future__ import annotations

from typing import Any


def sdk_session(store: Any, session_id: str) -> Any:
    """`SQLiteSession` on a SQLiteStore's file, `SQLAlchemySession` on a PostgresStore's engine."""
    from kaiwa.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        from agents.memory import SQLiteSession

        return SQLiteSession(session_id, store.path)
    from agents.extensions.memory import SQLAlchemySession

    return SQLAlchemySession(session_id, engine=store.engine, create_tables=False)
