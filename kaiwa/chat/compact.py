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

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import KaiwaError
from ..store.base import Item, SessionDump, SessionInfo, Store, TurnRecord
from ..store.dump import with_totals
from ..store.naming import new_session_id
from .transcript import entries, markdown

SUMMARISER = (
    "You compact conversations between a user and an AI assistant so they can continue in a new session that "
    "sees only your summary. Write in the conversation's language, in Markdown, as the assistant speaking to the "
    "user. Keep everything needed to go on: the user's goal and preferences, decisions made, facts, figures, "
    "names, code and commands that matter, results of tool calls, open questions, and where the conversation "
    "left off. Leave out pleasantries and repetition. Do not mention that you were given a transcript."
)
REQUEST = "Summarise our conversation so far, so that we can continue it in a new session."
TRANSCRIPT_RESULT_LIMIT = 2000  # characters of each tool result the summariser sees


@dataclass(frozen=True)
class Compacted:
    dump: SessionDump  # the new session (stored by `compact_session`)
    summary: str
    left_out_turns: int  # oldest turns that did not fit the model's context window


def _turn_starts(items: list[Item]) -> list[int]:
    """Where each turn starts: at each user message (anything before the first one is a turn of its own)."""
    starts = [i for i, item in enumerate(items) if item.get("role") == "user" and item.get("type") in (None, "message")]
    return starts if not items or starts[:1] == [0] else [0, *starts]


def _partial(dump: SessionDump, skip_turns: int) -> SessionDump:
    """`dump` without its first `skip_turns` turns."""
    if skip_turns == 0:
        return dump
    starts = _turn_starts(dump.items)
    cut = starts[skip_turns] if skip_turns < len(starts) else len(dump.items)
    return SessionDump(info=dump.info, items=dump.items[cut:], turns=dump.turns[skip_turns:])


def _prompt(dump: SessionDump, left_out: int) -> str:
    note = (
        f"\n\n(Left out: the earliest {left_out} turn{'s' if left_out != 1 else ''}, which did not fit. Say so at "
        "the start of the summary.)"
        if left_out
        else ""
    )
    return f"{markdown(dump, result_limit=TRANSCRIPT_RESULT_LIMIT)}\n---\n\n{REQUEST}{note}"


def _assistant_text(items: list[Item]) -> str:
    return "\n\n".join(step.text for step in entries(items) if step.role == "assistant")


async def compact(
    dump: SessionDump,
    *,
    model: str,
    base_url: str,
    api_key: str | None,
    timeout: float,
    max_retries: int,
    notice: Callable[[str], None] = lambda line: None,
) -> Compacted:
    """Summarise `dump` with `model`; the result's `dump` is the new session (not yet stored)."""
    from agents import Runner

    from .agent import (
        ProxyReceipts,
        build_agent,
        make_client,
        make_http_client,
        model_settings,
        reported_cost,
        run_config,
    )
    from .failures import is_context_window

    total = len(_turn_starts(dump.items))
    if total == 0:
        raise KaiwaError(f"session {dump.info.short_id} has no messages to compact", "pick another session")
    new_id = new_session_id()
    receipts = ProxyReceipts()
    http_client = make_http_client(receipts)
    client = make_client(base_url, api_key, timeout, max_retries, http_client)
    started = time.monotonic()
    left_out = 0
    try:
        agent = build_agent(model, client, model_settings(new_id, None), [], [], instructions=SUMMARISER)
        while True:
            try:
                prompt = _prompt(_partial(dump, left_out), left_out)
                result = await Runner.run(agent, prompt, run_config=run_config(), max_turns=1)
                break
            except Exception as exc:
                if not is_context_window(exc):
                    raise
                if left_out >= total - 1:
                    raise KaiwaError(
                        f"not even the last turn of the conversation fits the context window of {model!r}",
                        "compact it with a model that has a longer context (--model)",
                    ) from exc
                left_out = min(total - 1, max(1, left_out + (total - left_out) // 2))
                kept = total - left_out
                notice(f"the conversation does not fit {model}'s context whole; summarising its last {kept} turns")
    finally:
        await client.close()
    output: list[Item] = [
        dict(item.to_input_item())  # type: ignore[arg-type]
        for item in result.new_items
        if item.type == "message_output_item"
    ]
    summary = _assistant_text(output)
    if not summary.strip():
        raise KaiwaError(f"{model} returned an empty summary", "try again, or another model (--model)")
    usage = result.context_wrapper.usage
    record = TurnRecord(
        model=model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=getattr(usage.output_tokens_details, "reasoning_tokens", 0) or 0,
        cached_tokens=getattr(usage.input_tokens_details, "cached_tokens", 0) or 0,
        cost=reported_cost(result.raw_responses),
        request_ids=tuple(receipts.request_ids),
        duration_ms=int((time.monotonic() - started) * 1000),
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
        origin=f"compacted from {dump.info.session_id}",
    )
    items: list[Item] = [{"role": "user", "content": REQUEST}, *output]

    return Compacted(SessionDump(with_totals(info, [record]), items, [record]), summary, left_out)


async def compact_session(
    store: Store,
    info: SessionInfo,
    *,
    model: str,
    base_url: str,
    api_key: str | None,
    timeout: float,
    max_retries: int,
    notice: Callable[[str], None] = lambda line: None,
) -> Compacted:
    """Load `info`'s session, compact it and store the new session (the original stays as it is)."""
    from ..store.dump import load

    compacted = await compact(
        await load(store, info),
        model=model,
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        max_retries=max_retries,
        notice=notice,
    )
    await store.create_session(compacted.dump)
    return compacted
