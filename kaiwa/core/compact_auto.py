"""Compaction in place (issue 25): before a turn whose projection passes KAIWA_AUTO_COMPACT percent of the window,
the session's older exchanges are summarised by the model and, from then on, what is sent upstream is that summary
followed by the newest exchanges verbatim. The session keeps its id and its whole transcript: only a compaction
record (`store.Compaction`: the summary items and the index of the first item kept) is added, and `/undo` right
after it drops that record again.

The instructions (the role's, --system) are never summarised: they go with every request as the agent's
instructions. The summary itself is written by `compact.compact` (the same summariser and the same halving when
the history does not fit the model whole), given a plain transcript of what is being replaced.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from ..store.base import Compaction, Item, SessionDump, SessionInfo, Store
from .estimate import text_tokens
from .flat_input import sent_history
from .history import entries, turn_starts

if TYPE_CHECKING:
    from .engine import ChatEngine
    from .views import ContextUse

KEEP_SHARE = 30  # percent of the window the newest exchanges may fill verbatim after a compaction
LEAD_IN = "(Our earlier conversation, summarised: the messages before this point were replaced by this summary.)"


def items_tokens(items: list[Item]) -> int:
    """A local estimate of items as sent (their JSON, 4 bytes a token: `estimate.py`'s rule)."""
    return text_tokens(json.dumps(items, ensure_ascii=False, default=str))


def first_kept(items: list[Item], budget: int, since: int = 0) -> int | None:
    """Where the verbatim part starts: the newest whole exchanges that fit `budget` tokens (maybe none). None when
    nothing older than them is left to summarise (everything from `since` on is kept)."""
    starts = [s for s in turn_starts(items) if s >= since]
    cut = len(items)
    for start in reversed(starts):
        if items_tokens(items[start:]) > budget:
            break
        cut = start
    return cut if cut > since else None


def plain_transcript(dump: SessionDump, result_limit: int) -> str:
    """What the summariser reads: each message as `role: text`, tool results cut to `result_limit` characters."""
    lines: list[str] = []
    for step in entries(dump.items):
        if step.role in ("user", "assistant") and step.text:
            lines.append(f"{step.role}: {step.text}")
        elif step.role == "tool" and step.name:
            output = str(step.output)[:result_limit] if step.output is not None else ""
            lines.append(f"tool {step.name}({step.arguments}): {output}")
    return "\n\n".join(lines)


async def compact_in_place(
    store: Store,
    info: SessionInfo,
    engine: ChatEngine,
    model: str,
    use: ContextUse,
    notice: object,
    keep: int | None = None,
) -> Compaction | None:
    """Summarise what comes before the newest exchanges that fit `keep` tokens (default KEEP_SHARE of the
    window); store and return the compaction (None: nothing old enough to summarise). A previous compaction's
    summary is summarised again with the items after it, so the summary never grows past one."""
    from .compact import compact

    items = await store.items(info.session_id)
    previous = await store.compaction(info.session_id)
    since = previous.first_kept if previous is not None and previous.first_kept <= len(items) else 0
    cut = first_kept(items, use.window * KEEP_SHARE // 100 if keep is None else keep, since)
    if cut is None:
        return None
    older = [*(previous.summary if previous is not None and since else []), *items[since:cut]]
    say = notice if callable(notice) else (lambda line: None)
    done = await compact(SessionDump(info, older, []), engine, model=model, as_text=plain_transcript, notice=say)
    summary: list[Item] = [{"role": "user", "content": LEAD_IN}, *done.dump.items[1:]]
    record = done.dump.turns[0] if done.dump.turns else None
    compaction = Compaction(
        summary=summary,
        first_kept=cut,
        tokens_before=use.used,
        tokens_after=items_tokens(sent_history(items, Compaction(summary, cut))),
        cost=record.cost if record is not None else None,
        created_at=time.time(),
    )
    await store.add_compaction(info.session_id, compaction)
    return compaction


FIRST_CHECK = 1_024  # tokens: a new session's first message smaller than this is never checked against the window


def too_large(use: ContextUse, model: str) -> tuple[str, str] | None:
    """The refusal of a message that cannot fit even alone (the instructions and the answer's reserve beside it):
    (message, hint), or None."""
    if use.estimated + use.reserve <= use.window:
        return None
    return (
        f"this message is about {use.estimated:,} tokens (a local estimate) and {model}'s context window is "
        f"{use.window:,} with {use.reserve:,} kept for the answer; nothing was sent",
        "send it in parts, attach less, or use a model with a longer window ($model)",
    )


def due(use: ContextUse, percent: int | None) -> bool:
    """Whether the turn's projection (the last count, the new message, the answer's reserve) passes `percent` of
    the window (None: KAIWA_AUTO_COMPACT=off)."""
    return percent is not None and use.used > 0 and use.projected * 100 > use.window * percent
