"""Compacting a conversation: the model summarises it, and the conversation continues in a NEW session that
starts from that summary (`sessions compact ID`, the REPL's `/compact`). The original session is kept.

The model is sent the conversation as a readable transcript in one message (not the raw items), so any model can
summarise any session: no tool definitions, reasoning signatures or provider ids have to match. When even that
does not fit the model's context window, the oldest turns are left out (halving until it fits) and the user is
told how many.

The new session holds one exchange: the request to summarise and the model's answer (its output item verbatim),
with that call's usage as its turn record, `origin` "compacted from <id>", and the original's instructions.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import KaiwaError
from ..store.base import Item, SessionDump, SessionInfo, Store
from ..store.dump import with_totals
from ..store.ids import new_session_id
from ..words import counted
from .history import entries, turn_starts
from .views import AsText, Compacted

if TYPE_CHECKING:
    from .engine import ChatEngine

SUMMARISER = (
    "You compact conversations between a user and an AI assistant so they can continue in a new session that "
    "sees only your summary. Write in the conversation's language, in Markdown, as the assistant speaking to the "
    "user. Keep everything needed to go on: the user's goal and preferences, decisions made, facts, figures, "
    "names, code and commands that matter, results of tool calls, open questions, and where the conversation "
    "left off. Leave out pleasantries and repetition. Do not mention that you were given a transcript."
)
REQUEST = "Summarise our conversation so far, so that we can continue it in a new session."
TRANSCRIPT_RESULT_LIMIT = 2000  # characters of each tool result the summariser sees


# A session as the readable transcript the summariser is sent (the faces' Markdown transcript, `ui/transcript.py`,
# passed in: the core does not format), with each tool result cut to the given length.
def _partial(dump: SessionDump, skip_turns: int) -> SessionDump:
    """`dump` without its first `skip_turns` turns."""
    if skip_turns == 0:
        return dump
    starts = turn_starts(dump.items)
    cut = starts[skip_turns] if skip_turns < len(starts) else len(dump.items)
    return SessionDump(info=dump.info, items=dump.items[cut:], turns=dump.turns[skip_turns:])


def _prompt(dump: SessionDump, left_out: int, as_text: AsText) -> str:
    note = (
        f"\n\n(Left out: the earliest {counted(left_out, 'turn')}, which did not fit. Say so at "
        "the start of the summary.)"
        if left_out
        else ""
    )
    return f"{as_text(dump, TRANSCRIPT_RESULT_LIMIT)}\n---\n\n{REQUEST}{note}"


def compacted_from(origin: str | None) -> str | None:
    """The id of the session a compacted one summarises (from its `origin`), or None."""
    prefix = "compacted from "
    if not origin or not origin.startswith(prefix):
        return None
    return origin[len(prefix) :].strip() or None


def _assistant_text(items: list[Item]) -> str:
    return "\n\n".join(step.text for step in entries(items) if step.role == "assistant")


async def compact(
    dump: SessionDump,
    engine: ChatEngine,
    *,
    model: str,
    as_text: AsText,
    notice: Callable[[str], None] = lambda line: None,
) -> Compacted:
    """Summarise `dump` with `model` through the conversation's engine (its client and HTTP pool); the result's
    `dump` is the new session (not yet stored)."""
    from agents import Runner

    from .agent import build_agent, model_settings, reported_cache_writes, reported_cost, run_config
    from .engine import usage_record
    from .failures import is_context_window

    total = len(turn_starts(dump.items))
    if total == 0:
        raise KaiwaError(f"session {dump.info.short_id} has no messages to compact", "pick another session")
    new_id = new_session_id()
    engine.receipts.clear()
    started = time.monotonic()
    left_out = 0
    agent = build_agent(
        model,
        engine.client,
        model_settings(new_id, None, prompt_cache=engine.config.prompt_cache),
        [],
        [],
        instructions=SUMMARISER,
    )
    while True:
        try:
            prompt = _prompt(_partial(dump, left_out), left_out, as_text)
            result = await Runner.run(agent, prompt, run_config=run_config(), max_turns=1)
            break
        except Exception as exc:
            if not is_context_window(exc):
                raise
            if left_out >= total - 1:
                raise KaiwaError(
                    f"not even the last turn of the conversation fits the context window of {model!r}",
                    "compact it with a model that has a longer context ($model)",
                    kind="context_window",
                    model=model,
                ) from exc
            left_out = min(total - 1, max(1, left_out + (total - left_out) // 2))
            kept = counted(total - left_out, "turn")
            notice(f"the conversation does not fit {model}'s context whole; summarising its last {kept}")
    receipts = engine.receipts
    output: list[Item] = [
        dict(item.to_input_item())  # type: ignore[arg-type]
        for item in result.new_items
        if item.type == "message_output_item"
    ]
    summary = _assistant_text(output)
    if not summary.strip():
        raise KaiwaError(f"{model} returned an empty summary", "try again, or another model ($model)", model=model)
    cost = reported_cost(result.raw_responses, receipts)
    record = dataclasses.replace(
        usage_record(
            model,
            result.context_wrapper.usage,
            receipts.request_ids,
            cost,
            started,
            reported_cache_writes(result.raw_responses),
            engine.spender,
        ),
        created_at=time.time(),
    )
    now = time.time()
    info = SessionInfo(
        session_id=new_id,
        created_at=now,
        updated_at=now,
        model=model,
        title=dump.info.title,
        instructions=dump.info.instructions,
        origin=f"compacted from {dump.info.session_id}",  # read back by compacted_from
        role=dump.info.role,  # the summary goes on in the same role
    )
    items: list[Item] = [{"role": "user", "content": REQUEST}, *output]

    return Compacted(SessionDump(with_totals(info, [record]), items, [record]), summary, left_out)


async def compact_session(
    store: Store,
    info: SessionInfo,
    engine: ChatEngine,
    *,
    model: str,
    as_text: AsText,
    notice: Callable[[str], None] = lambda line: None,
) -> Compacted:
    """Load `info`'s session, compact it and store the new session (the original stays as it is)."""
    from ..store.dump import load

    compacted = await compact(await load(store, info), engine, model=model, as_text=as_text, notice=notice)
    await store.create_session(compacted.dump)
    return compacted


# -- /retry right after /compact ------------------------------------------------------------------------
