"""The SQLite store: one private file per user (`store.py`), its side files and checks (`files.py`, `lock.py`), the
connection and its worker thread (`connect.py`, `worker.py`), tables (`schema.py`), search and the original chat.py's
file adopted (`search.py`, `adopt.py`)."""

from .store import SQLiteStore

__all__ = ["SQLiteStore"]
