"""The Postgres store (team mode): the store itself (`store.py`), its tables (`schema.py`), rows (`rows.py`), session
locks (`lock.py`), full-text search (`search.py`) and one line per server error (`errors.py`). Imported only when
SESSION_DB_URL is set: it brings SQLAlchemy and asyncpg."""

from .store import PostgresStore

__all__ = ["PostgresStore"]
