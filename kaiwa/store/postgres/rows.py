"""The Postgres store's statements over its tables (SQLAlchemy Core): reading sessions, writing a turn's rows."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..base import Item, SessionInfo, TurnRecord, latest_time
from . import schema as S

NOW = text("extract(epoch from clock_timestamp())")  # the server's clock: machines' clocks may disagree


def dump_item(item: Item) -> str:
    """An item as the SDK's SQLAlchemySession serialises it (ensure_ascii, compact separators)."""
    return json.dumps(item, ensure_ascii=True, separators=(",", ":"))


def in_range() -> Any:
    """The session's times are believable (NaN is greater than every number in Postgres: out too)."""
    s, latest = S.kaiwa_sessions, latest_time()
    return and_(s.c.updated_at.between(0, latest), s.c.created_at.between(0, latest))


def info_query() -> Any:
    """SessionInfo's columns: kaiwa_sessions with its turns summed."""
    s, t = S.kaiwa_sessions, S.kaiwa_turns
    totals = (
        select(
            t.c.session_id,
            func.count().label("turns"),
            func.sum(t.c.input_tokens).label("input_tokens"),
            func.sum(t.c.output_tokens).label("output_tokens"),
            func.sum(t.c.cost).label("cost"),
        )
        .group_by(t.c.session_id)
        .subquery()
    )
    return select(
        s.c.session_id,
        s.c.created_at,
        s.c.updated_at,
        s.c.model,
        s.c.title,
        func.coalesce(totals.c.turns, 0),
        func.coalesce(totals.c.input_tokens, 0),
        func.coalesce(totals.c.output_tokens, 0),
        totals.c.cost,
        s.c.instructions,
        s.c.origin,
        s.c.role,
    ).select_from(s.outerjoin(totals, totals.c.session_id == s.c.session_id))


def to_info(row: Any) -> SessionInfo:
    sid, created, updated, model, title, turns, tin, tout, cost, instructions, origin, role = row
    return SessionInfo(
        sid, created, updated, model, title, int(turns), int(tin), int(tout), cost, instructions, origin, role
    )


async def ensure_session(
    conn: AsyncConnection, session_id: str, model: str, title: str, instructions: str | None, role: str | None
) -> None:
    new = pg_insert(S.agent_sessions).values(session_id=session_id)
    touch = {"updated_at": text("CURRENT_TIMESTAMP")}
    await conn.execute(new.on_conflict_do_update(index_elements=["session_id"], set_=touch))
    stmt = pg_insert(S.kaiwa_sessions).values(
        session_id=session_id,
        created_at=NOW,
        updated_at=NOW,
        model=model,
        title=title,
        instructions=instructions,
        role=role,
    )
    changed: dict[str, Any] = {"updated_at": stmt.excluded.updated_at, "model": model}
    if role is not None:  # a turn names its role: the session runs as it from now on
        changed["role"] = role
    await conn.execute(stmt.on_conflict_do_update(index_elements=["session_id"], set_=changed))


async def insert_items(conn: AsyncConnection, session_id: str, items: list[Item]) -> None:
    if items:
        rows = [{"session_id": session_id, "message_data": dump_item(i)} for i in items]
        await conn.execute(insert(S.agent_messages), rows)


async def insert_turns(conn: AsyncConnection, session_id: str, records: list[TurnRecord]) -> None:
    if len(records) == 1:  # a turn: one statement, the server's clock in it
        await conn.execute(insert(S.kaiwa_turns).values(_turn_row(session_id, records[0], NOW)))
    elif records:
        now = float(await conn.scalar(select(NOW)))
        await conn.execute(insert(S.kaiwa_turns), [_turn_row(session_id, r, now) for r in records])


async def cut_items(conn: AsyncConnection, session_id: str, keep: int) -> None:
    m = S.agent_messages
    doomed = select(m.c.id).where(m.c.session_id == session_id).order_by(m.c.created_at, m.c.id).offset(keep)
    await conn.execute(delete(m).where(m.c.id.in_(doomed.scalar_subquery())))


async def cut_turns(conn: AsyncConnection, session_id: str, keep: int) -> None:
    t = S.kaiwa_turns
    doomed = select(t.c.id).where(t.c.session_id == session_id).order_by(t.c.id).offset(keep)
    await conn.execute(delete(t).where(t.c.id.in_(doomed.scalar_subquery())))


def _turn_row(session_id: str, r: TurnRecord, now: Any) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "created_at": r.created_at or now,
        "model": r.model,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "reasoning_tokens": r.reasoning_tokens,
        "cached_tokens": r.cached_tokens,
        "cost": r.cost,
        "request_ids": " ".join(r.request_ids),
        "duration_ms": r.duration_ms,
        "cache_write_tokens": r.cache_write_tokens,
        "spender": r.spender,
        "attempts": r.attempts,
        "outcome": r.outcome,
    }
