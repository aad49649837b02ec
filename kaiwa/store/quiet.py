"""Work a cancelled caller stops waiting for, that still ends by itself: its failure is retrieved, so asyncio does
not print "… exception was never retrieved" and a traceback when the process ends (after Ctrl-C, say)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


def shielded[T](work: Awaitable[T]) -> asyncio.Future[T]:
    """`asyncio.shield(work)`, with `work`'s own failure retrieved if nobody awaits it any more."""
    future = asyncio.ensure_future(work)
    future.add_done_callback(_retrieve)
    return asyncio.shield(future)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
