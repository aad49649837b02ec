"""The session the Runner sees during one turn: the stored history (read by the store before the turn) and
everything the turn adds, kept in memory until the store commits it in one transaction.

This is what makes a turn atomic: nothing of an unfinished turn is ever written, so a turn that fails, is
cancelled or whose process is killed leaves the session exactly as it was — there is nothing to roll back.
"""

from __future__ import annotations

from typing import Any

from agents.memory import SessionABC

SdkItem = Any  # the SDK's TResponseInputItem, left untyped at its boundary (the store's `Item` is a dict)


class TurnBuffer(SessionABC):
    def __init__(self, session_id: str, history: list[SdkItem]) -> None:
        """`history`: the stored items this turn continues from (for `/retry`, without the exchange it replaces;
        the store deletes those in the same commit)."""
        self.session_id = session_id
        self.session_settings = None
        self._history = history
        self.pending: list[SdkItem] = []

    async def get_items(self, limit: int | None = None) -> list[SdkItem]:
        items = [*self._history, *self.pending]
        return items[-limit:] if limit else items

    async def add_items(self, items: list[SdkItem]) -> None:
        self.pending.extend(items)

    async def pop_item(self) -> SdkItem | None:
        # The SDK pops only what it just added (e.g. to retry a turn's input): never the stored history.
        return self.pending.pop() if self.pending else None

    async def clear_session(self) -> None:
        raise RuntimeError("a turn cannot clear its session")
