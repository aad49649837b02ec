"""The session the Runner sees during one turn: it reads the stored history through the backend's own SDK session
and keeps everything the turn adds in memory, until the store commits it in one transaction.

This is what makes a turn atomic: nothing of an unfinished turn is ever written, so a turn that fails, is
cancelled or whose process is killed leaves the session exactly as it was — there is nothing to roll back.
"""

from __future__ import annotations

from typing import Any

from agents.memory import SessionABC

Item = Any  # TResponseInputItem: a JSON-able dict


class TurnBuffer(SessionABC):
    def __init__(self, stored: Any, keep: int | None = None) -> None:
        """`stored`: the backend's SDK session (read only). `keep`: hide stored items from that index on
        (`/retry` replaces the last exchange; the store deletes them in the same commit)."""
        self.session_id: str = stored.session_id
        self.session_settings = None
        self._stored = stored
        self._keep = keep
        self.pending: list[Item] = []

    async def get_items(self, limit: int | None = None) -> list[Item]:
        history = await self._stored.get_items()
        if self._keep is not None:
            history = history[: self._keep]
        items = [*history, *self.pending]
        return items[-limit:] if limit else items

    async def add_items(self, items: list[Item]) -> None:
        self.pending.extend(items)

    async def pop_item(self) -> Item | None:
        # The SDK pops only what it just added (e.g. to retry a turn's input): never the stored history.
        return self.pending.pop() if self.pending else None

    async def clear_session(self) -> None:
        raise RuntimeError("a turn cannot clear its session")
