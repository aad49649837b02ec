"""A whole session as one lossless JSON document (export/import), and the copies fork and compact make.

The JSON holds the Agents SDK's items verbatim (reasoning with its encrypted content, tool calls and their
outputs, provider ids), kaiwa's metadata (title, model, instructions, origin, times) and every turn's usage, so an
imported session continues exactly where the export left off, on any backend.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import KaiwaError
from ..words import program
from .base import SessionDump, SessionInfo, Store, TurnRecord, latest_time
from .ids import new_session_id
from .item_check import MAX_DEPTH, deeper_than, dump_problem

FORMAT = "kaiwa-session"
VERSION = 1


def iso(timestamp: float) -> str:
    """An epoch time as ISO 8601 in UTC (what every --json output and export carries); a stored time that is no
    date at all (a row from before imports were range-checked) reads "invalid" rather than failing the command."""
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()
    except (OverflowError, ValueError, OSError, TypeError):
        return "invalid"


def _epoch(value: Any, what: str) -> float:
    """A time from an export, in seconds since the epoch, believed only from 1970 to a day ahead of this clock."""
    hint = "export the session again"
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value))
            seconds = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
        except (ValueError, OverflowError):
            raise KaiwaError(f"the export's {what} is not a time: {str(value)[:40]!r}", hint) from None
    if not (math.isfinite(seconds) and 0 <= seconds <= latest_time()):
        raise KaiwaError(f"the export's {what} is out of range: {str(value)[:40]!r} (not between 1970 and now)", hint)
    return seconds


def with_totals(info: SessionInfo, turns: list[TurnRecord]) -> SessionInfo:
    """`info` with its turn count, tokens and cost summed from `turns` (cost None unless some turn was priced)."""
    costs = [t.cost for t in turns if t.cost is not None]
    return dataclasses.replace(
        info,
        turns=len(turns),
        input_tokens=sum(t.input_tokens for t in turns),
        output_tokens=sum(t.output_tokens for t in turns),
        cost=sum(costs) if costs else None,
    )


async def load(store: Store, info: SessionInfo) -> SessionDump:
    """Everything stored for one session."""
    return SessionDump(info=info, items=await store.items(info.session_id), turns=await store.turns(info.session_id))


# -- JSON ------------------------------------------------------------------------------------------------
def to_json(dump: SessionDump) -> dict[str, Any]:
    info = dump.info
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso(time.time()),
        "session": {
            "id": info.session_id,
            "title": info.title,
            "model": info.model,
            "created_at": iso(info.created_at),
            "updated_at": iso(info.updated_at),
            "instructions": info.instructions,
            "origin": info.origin,
            "role": info.role,
        },
        "items": dump.items,
        "turns": [
            {**dataclasses.asdict(t), "request_ids": list(t.request_ids), "created_at": iso(t.created_at)}
            for t in dump.turns
        ],
    }


def dumps(dump: SessionDump) -> str:
    return json.dumps(to_json(dump), ensure_ascii=False, indent=1) + "\n"


_TURN_FIELDS = {f.name for f in dataclasses.fields(TurnRecord)}


def _turn(raw: Any) -> TurnRecord:
    if not isinstance(raw, dict) or not isinstance(raw.get("model"), str):
        raise ValueError("a turn without a model")
    fields = {k: v for k, v in raw.items() if k in _TURN_FIELDS}
    fields["request_ids"] = tuple(str(r) for r in fields.get("request_ids") or ())
    fields["created_at"] = _epoch(fields.get("created_at", 0.0), "turn time")
    return TurnRecord(**fields)


def _document_problem(data: Any, session: dict[str, Any], items: list[Any], turns: list[Any]) -> str | None:
    """What makes an export unfit to store (checked before anything is written), or None."""
    raw_id = session.get("id")
    try:
        uuid.UUID(raw_id if isinstance(raw_id, str) else "")
    except ValueError:
        return f"its session id {str(raw_id)[:40]!r} is not a UUID"
    for name in ("title", "model", "instructions", "origin", "role"):
        if session.get(name) is not None and not isinstance(session[name], str):
            return f"its session {name} is not text"
    try:  # JSON's \ud800 escapes decode to lone surrogates, which no store can write
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "it holds text that is not valid Unicode (a lone surrogate escape)"
    return dump_problem(items, turns)


def from_json(data: Any, source: str = "the file") -> SessionDump:
    """A dump from an export, or a KaiwaError line saying what is wrong with it."""
    hint = f"give a file written by `{program()} sessions export ID --format json`"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KaiwaError(f"{source} is not a kaiwa session export", hint)
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise KaiwaError(f"{source} is a kaiwa export of version {version!r}, newer than this kaiwa", "update kaiwa")
    session, items, turns = data.get("session"), data.get("items"), data.get("turns", [])
    if not isinstance(session, dict) or not isinstance(items, list) or not isinstance(turns, list):
        raise KaiwaError(f"{source} is an incomplete kaiwa export (session, items or turns missing)", hint)
    if deeper_than(data, MAX_DEPTH):
        raise KaiwaError(f"{source} nests deeper than {MAX_DEPTH} levels; nothing was imported", hint)
    problem = _document_problem(data, session, items, turns)
    if problem is not None:
        raise KaiwaError(f"{source} is a damaged kaiwa export: {problem}; nothing was imported", hint)
    try:
        sid = str(uuid.UUID(session["id"]))
        parsed_turns = [_turn(t) for t in turns]
        info = SessionInfo(
            session_id=sid,
            created_at=_epoch(session.get("created_at", 0), "creation time"),
            updated_at=_epoch(session.get("updated_at", 0), "last-used time"),
            model=str(session.get("model") or ""),
            title=str(session.get("title") or ""),
            instructions=session.get("instructions"),
            origin=session.get("origin"),
            role=session.get("role"),  # absent in older exports
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise KaiwaError(f"{source} is a damaged kaiwa export ({exc})", hint) from None
    return SessionDump(info=with_totals(info, parsed_turns), items=items, turns=parsed_turns)


def read_file(path: Path) -> SessionDump:
    """An export read from `path` (`-`: stdin)."""
    import sys

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KaiwaError(f"no such file: {path}", "give the path of an exported session") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KaiwaError(f"cannot read {path}: {exc}", "give the path of an exported session") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise KaiwaError(f"{path} nests too deeply to read; nothing was imported", "give a kaiwa export") from None
    except json.JSONDecodeError as exc:
        raise KaiwaError(
            f"{path} is not JSON (line {exc.lineno}: {exc.msg})",
            "import reads the JSON export (`sessions export ID --format json`), not the Markdown one",
        ) from None
    except ValueError as exc:  # e.g. a number of more than 4300 digits
        raise KaiwaError(f"{path} cannot be read as a kaiwa export ({exc})", "give a kaiwa export") from None
    return from_json(data, str(path))


# -- copies ----------------------------------------------------------------------------------------------
def copy(dump: SessionDump, origin: str, *, session_id: str | None = None, title: str | None = None) -> SessionDump:
    """A new session with the same history, instructions and usage, under a new UUIDv7 id (now as its times)."""
    now = time.time()
    info = dataclasses.replace(
        dump.info,
        session_id=session_id or new_session_id(),
        created_at=now,
        updated_at=now,
        origin=origin,
        title=dump.info.title if title is None else title,
    )
    return SessionDump(info=info, items=[dict(item) for item in dump.items], turns=list(dump.turns))


def fork(dump: SessionDump) -> SessionDump:
    """`sessions fork` and `/fork`: the original is untouched, the copy says where it came from."""
    return copy(dump, f"fork of {dump.info.session_id}")


def imported(dump: SessionDump, new_id: bool) -> SessionDump:
    """What `import` stores: the same session (same id, its origin kept), or with `--new-id` a copy of it."""
    if new_id:
        return copy(dump, f"imported copy of {dump.info.session_id}")
    if dump.info.origin:
        return dump
    return dataclasses.replace(dump, info=dataclasses.replace(dump.info, origin="imported"))
