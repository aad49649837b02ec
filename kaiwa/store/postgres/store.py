"""The Postgres session store (SESSION_DB_URL=postgresql://…): a team's conversations in one shared database.

Items live in the Agents SDK's own tables (`SQLAlchemySession`'s `agent_sessions` / `agent_messages`, one JSON
item per row, serialised exactly as the SDK does), kaiwa's rows beside them (schema.py), all through
SQLAlchemy Core on asyncpg. A turn is one transaction; turns on one session are serialised across machines by a
Postgres advisory lock held on a dedicated connection (a dead process's connection closes, so its lock goes too).

SQLAlchemy and asyncpg are imported only here, and this module only when SESSION_DB_URL is set.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import delete, func, insert, literal, literal_column, or_, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ...errors import KaiwaError
from ...words import program
from ..base import Compaction, Item, ModelSpend, SearchHit, SessionDump, SessionInfo, Store, TurnRecord
from . import rows as R
from . import schema as S
from .errors import parse_url, translate
from .lock import session_lock
from .search import search_sessions

CONNECT_TIMEOUT = 10.0
NOW = R.NOW


class PostgresStore(Store):
    def __init__(self, url: str, lock_timeout: float | None = None) -> None:
        self._lock_timeout = lock_timeout
        self._target = parse_url(url)
        self.location = self._target.masked
        self._engine: AsyncEngine | None = None
        self.shared = True  # a team's store: spending counts the user's own turns (TurnRecord.spender)

    # -- plumbing ----------------------------------------------------------------------------------
    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self._target.dsn,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": "kaiwa", "timezone": "UTC"},
        )

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            # The URL goes to asyncpg as the user wrote it (libpq's sslmode, sslrootcert, PG* variables…);
            # SQLAlchemy never sees it, so neither its logs nor its reprs can show the password.
            self._engine = create_async_engine("postgresql+asyncpg://", async_creator=self._connect)
        return self._engine

    def _fail(self, exc: BaseException) -> BaseException:
        return translate(exc, self._target) or exc

    def explain(self, exc: BaseException) -> KaiwaError | None:
        """The one line for a Postgres failure met outside the store's own methods, else None."""
        return translate(exc, self._target)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.begin() as conn:
                yield conn
        except KaiwaError:
            raise
        except (Exception, asyncio.CancelledError) as exc:
            err = self._fail(exc)
            if err is exc:
                raise
            raise err from exc

    # -- lifecycle ---------------------------------------------------------------------------------
    async def open(self) -> None:
        async with self._tx() as conn:
            version = await self._version(conn)
            if version == S.SCHEMA_VERSION:
                return
        async with self._tx() as conn:  # create or migrate, one process at a time
            await conn.execute(select(func.pg_advisory_xact_lock(S.SCHEMA_LOCK_KEY)))
            version = await self._version(conn)
            if version == S.SCHEMA_VERSION:  # made while we waited: its DDL again would deadlock with its users
                return
            if version is not None and version > S.SCHEMA_VERSION:
                raise KaiwaError(
                    f"the kaiwa tables in {self.location} are from a newer kaiwa (schema {version}, "
                    f"this one knows {S.SCHEMA_VERSION})",
                    "upgrade kaiwa on this machine",
                )
            if version is None:
                await self._check_foreign_tables(conn)
            await conn.run_sync(S.metadata.create_all, checkfirst=True)
            await conn.execute(text(S.ITEM_TEXT_FUNCTION))
            for statement in S.SEARCH_TRIGGERS:
                await conn.execute(text(statement))
            if version is None or version < 2:  # rows written before: the SDK's own, or schema 1's
                for statement in S.MIGRATE_TO_2:
                    await conn.execute(text(statement))
            if version is not None and version < 3:  # new tables have the columns already (create_all)
                for statement in S.MIGRATE_TO_3:
                    await conn.execute(text(statement))
            if version is None or version < 4:
                for statement in S.MIGRATE_TO_4:
                    await conn.execute(text(statement))
            if version is None or version < 5:
                for statement in S.MIGRATE_TO_5:
                    await conn.execute(text(statement))
            await conn.execute(
                pg_insert(S.kaiwa_meta)
                .values(key="schema_version", value=str(S.SCHEMA_VERSION))
                .on_conflict_do_update(index_elements=["key"], set_={"value": str(S.SCHEMA_VERSION)})
            )

    async def _version(self, conn: AsyncConnection) -> int | None:
        exists = await conn.scalar(select(func.to_regclass("kaiwa_meta")))
        if exists is None:
            return None
        value = await conn.scalar(select(S.kaiwa_meta.c.value).where(S.kaiwa_meta.c.key == "schema_version"))
        return int(value) if value is not None else None

    async def _check_foreign_tables(self, conn: AsyncConnection) -> None:
        """Tables named like ours but shaped otherwise belong to another application: leave them alone."""
        rows = await conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name IN ('agent_sessions', 'agent_messages')"
            )
        )
        found: dict[str, set[str]] = {}
        for table_name, column in rows:
            found.setdefault(table_name, set()).add(column)
        for table in (S.agent_sessions, S.agent_messages):
            if table.name in found and not {c.name for c in table.columns} <= found[table.name]:
                raise KaiwaError(
                    f"{self.location} has a table {table.name!r} that is not the Agents SDK's",
                    "point SESSION_DB_URL at a database (or schema) of kaiwa's own",
                )

    async def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

    # -- reading -----------------------------------------------------------------------------------
    async def list_sessions(self, limit: int | None = None) -> list[SessionInfo]:
        query = R.info_query().where(R.in_range()).order_by(S.kaiwa_sessions.c.updated_at.desc()).limit(limit)
        async with self._tx() as conn:
            return [R.to_info(r) for r in await conn.execute(query)]

    async def unlisted(self) -> list[str]:
        query = select(S.kaiwa_sessions.c.session_id).where(~R.in_range())
        async with self._tx() as conn:
            return [r[0] for r in await conn.execute(query)]

    async def get_session(self, session_id: str) -> SessionInfo | None:
        query = R.info_query().where(S.kaiwa_sessions.c.session_id == session_id)
        async with self._tx() as conn:
            row = (await conn.execute(query)).first()
        return R.to_info(row) if row else None

    async def find_sessions(self, fragment: str, limit: int = 10) -> list[SessionInfo]:
        pattern = "%" + fragment.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = (
            R.info_query()
            .where(func.lower(S.kaiwa_sessions.c.session_id).like(pattern, escape="\\"))
            .order_by(S.kaiwa_sessions.c.updated_at.desc())
            .limit(limit)
        )
        async with self._tx() as conn:
            return [R.to_info(r) for r in await conn.execute(query)]

    async def items(self, session_id: str) -> list[Item]:
        m = S.agent_messages
        query = select(m.c.message_data).where(m.c.session_id == session_id).order_by(m.c.created_at, m.c.id)
        async with self._tx() as conn:
            rows = (await conn.execute(query)).scalars().all()
        out: list[Item] = []
        for raw in rows:
            try:
                out.append(json.loads(raw))
            except (json.JSONDecodeError, TypeError):
                continue  # the SDK skips rows it cannot decode, too
        return out

    async def turns(self, session_id: str) -> list[TurnRecord]:
        t = S.kaiwa_turns
        query = select(t).where(t.c.session_id == session_id).order_by(t.c.id)
        async with self._tx() as conn:
            return [
                TurnRecord(
                    model=r.model,
                    input_tokens=r.input_tokens,
                    output_tokens=r.output_tokens,
                    reasoning_tokens=r.reasoning_tokens,
                    cached_tokens=r.cached_tokens,
                    cost=r.cost,
                    request_ids=tuple(r.request_ids.split()),
                    duration_ms=r.duration_ms,
                    created_at=r.created_at,
                    cache_write_tokens=r.cache_write_tokens,
                    spender=r.spender,
                    attempts=r.attempts,
                    outcome=r.outcome,
                )
                for r in await conn.execute(query)
            ]

    async def spend(self, since: float, spender: str | None = None) -> list[ModelSpend]:
        # Turns, and in-place compactions (paid too) under the name "compaction", whose spender is their session's.
        t, c = S.kaiwa_turns, S.kaiwa_compactions
        last = select(t.c.spender).where(t.c.session_id == c.c.session_id).order_by(t.c.id.desc()).limit(1)
        paid = union_all(
            select(t.c.model, t.c.cost, t.c.input_tokens, t.c.output_tokens, t.c.created_at, t.c.spender),
            select(
                literal("compaction").label("model"), c.c.cost, literal(0).label("input_tokens"),
                literal(0).label("output_tokens"), c.c.created_at, last.scalar_subquery().label("spender"),
            ),
        ).subquery()  # fmt: skip
        query = (
            select(
                paid.c.model,
                func.coalesce(func.sum(paid.c.cost), 0.0),
                func.count(),
                func.count().filter(paid.c.cost.is_(None)),
                func.coalesce(func.sum(paid.c.input_tokens), 0),
                func.coalesce(func.sum(paid.c.output_tokens), 0),
            )
            .where(paid.c.created_at >= since)
            .group_by(paid.c.model)
        )
        if spender is not None:
            query = query.where(paid.c.spender == spender)
        async with self._tx() as conn:
            return [ModelSpend(r[0], float(r[1]), r[2], r[3], int(r[4]), int(r[5])) for r in await conn.execute(query)]

    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        if not text.strip():
            return []
        async with self._tx() as conn:
            found = await search_sessions(conn, text.strip(), limit)
            if not found:
                return []
            query = R.info_query().where(S.kaiwa_sessions.c.session_id.in_([sid for sid, _ in found]))
            infos = {i.session_id: i for i in map(R.to_info, await conn.execute(query))}
        hits = [SearchHit(infos[sid], snippet) for sid, snippet in found if sid in infos]
        return sorted(hits, key=lambda h: h.session.updated_at, reverse=True)

    # -- writing -----------------------------------------------------------------------------------
    def lock(
        self, session_id: str, on_wait: Callable[[], None] | None = None, timeout: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        chosen = timeout if timeout is not None else self._lock_timeout
        return session_lock(self.engine, session_id, on_wait, 120.0 if chosen is None else chosen, self._fail)

    async def commit_turn(
        self,
        session_id: str,
        items: list[Item],
        record: TurnRecord,
        *,
        title: str,
        instructions: str | None = None,
        replace_from: int | None = None,
        role: str | None = None,
    ) -> None:
        async with self._tx() as conn:
            await R.ensure_session(conn, session_id, record.model, title, instructions, role)
            stored = record
            if replace_from is not None:
                await R.cut_items(conn, session_id, replace_from)
                t = S.kaiwa_turns
                query = select(t.c.id, t.c.cost).where(t.c.session_id == session_id).order_by(t.c.id.desc()).limit(1)
                last = (await conn.execute(query)).first()
                if last is not None:
                    await conn.execute(delete(t).where(t.c.id == last.id))
                    stored = record.replacing(last.cost)
            await R.insert_items(conn, session_id, items)
            await R.insert_turns(conn, session_id, [stored])

    async def create_session(self, dump: SessionDump) -> None:
        info = dump.info
        async with self._tx() as conn:
            taken = await conn.scalar(
                select(literal_column("1")).where(
                    or_(
                        select(S.kaiwa_sessions.c.session_id)
                        .where(S.kaiwa_sessions.c.session_id == info.session_id)
                        .exists(),
                        select(S.agent_sessions.c.session_id)
                        .where(S.agent_sessions.c.session_id == info.session_id)
                        .exists(),
                    )
                )
            )
            if taken:
                raise KaiwaError(
                    f"a session with id {info.session_id} exists already in {self.location}",
                    "import it with --new-id to keep both",
                )
            await conn.execute(insert(S.agent_sessions).values(session_id=info.session_id))
            await conn.execute(
                insert(S.kaiwa_sessions).values(
                    session_id=info.session_id,
                    created_at=info.created_at or NOW,
                    updated_at=info.updated_at or NOW,
                    model=info.model,
                    title=info.title,
                    instructions=info.instructions,
                    origin=info.origin,
                    role=info.role,
                )
            )
            await R.insert_items(conn, info.session_id, dump.items)
            await R.insert_turns(conn, info.session_id, dump.turns)
            if dump.compaction is not None:
                await self._add_compaction(conn, info.session_id, dump.compaction)

    async def _update_session(self, session_id: str, **values: Any) -> None:
        s = S.kaiwa_sessions
        async with self._tx() as conn:
            result = await conn.execute(update(s).where(s.c.session_id == session_id).values(**values))
        if result.rowcount == 0:
            raise KaiwaError(f"no session {session_id} in {self.location}", f"list them with `{program()} sessions`")

    async def rename(self, session_id: str, title: str) -> None:
        await self._update_session(session_id, title=title)

    async def set_instructions(self, session_id: str, instructions: str | None) -> None:
        await self._update_session(session_id, instructions=instructions)

    async def set_role(self, session_id: str, role: str | None) -> None:
        await self._update_session(session_id, role=role)

    async def set_origin(self, session_id: str, origin: str | None) -> None:
        await self._update_session(session_id, origin=origin)

    async def compaction(self, session_id: str) -> Compaction | None:
        c = S.kaiwa_compactions.c
        query = (select(c.summary, c.first_kept, c.tokens_before, c.tokens_after, c.cost, c.created_at)
                 .where(c.session_id == session_id).order_by(c.id.desc()).limit(1))  # fmt: skip
        async with self._tx() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Compaction(json.loads(row[0]), int(row[1]), int(row[2]), int(row[3]), row[4], float(row[5]))

    @staticmethod
    async def _add_compaction(conn: AsyncConnection, session_id: str, compaction: Compaction) -> None:
        import time

        await conn.execute(insert(S.kaiwa_compactions).values(
            session_id=session_id, created_at=compaction.created_at or time.time(),
            summary=json.dumps(compaction.summary), first_kept=compaction.first_kept,
            tokens_before=compaction.tokens_before, tokens_after=compaction.tokens_after, cost=compaction.cost,
        ))  # fmt: skip

    async def add_compaction(self, session_id: str, compaction: Compaction) -> None:
        async with self._tx() as conn:
            await self._add_compaction(conn, session_id, compaction)

    async def drop_compaction(self, session_id: str) -> bool:
        c = S.kaiwa_compactions.c
        newest = select(func.max(c.id)).where(c.session_id == session_id).scalar_subquery()
        async with self._tx() as conn:
            result = await conn.execute(delete(S.kaiwa_compactions).where(c.id == newest))
        return bool(result.rowcount)

    async def truncate(self, session_id: str, keep_items: int, keep_turns: int) -> None:
        async with self._tx() as conn:
            await R.cut_items(conn, session_id, keep_items)
            await R.cut_turns(conn, session_id, keep_turns)
            await conn.execute(
                update(S.kaiwa_sessions).where(S.kaiwa_sessions.c.session_id == session_id).values(updated_at=NOW)
            )

    async def delete(self, session_ids: list[str]) -> int:
        if not session_ids:
            return 0
        ks, ag = S.kaiwa_sessions, S.agent_sessions
        async with self._tx() as conn:
            gone_k = await conn.execute(delete(ks).where(ks.c.session_id.in_(session_ids)).returning(ks.c.session_id))
            gone = set(gone_k.scalars())
            gone_a = await conn.execute(delete(ag).where(ag.c.session_id.in_(session_ids)).returning(ag.c.session_id))
            gone |= set(gone_a.scalars())
        return len(gone)
