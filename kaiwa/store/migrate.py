"""`sessions migrate`: copy every session of one store into another (SQLite → Postgres), idempotently.

Works on the `Store` interface only, so it copies exactly what export/import would: the SDK's items verbatim,
kaiwa's metadata (title, model, instructions, origin, times) and every turn's usage. Each session is copied in
one transaction by `create_session`, under the same id; a session the target already holds is left as it is
(running it twice copies nothing twice; one interrupted half-way resumes where it stopped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import KaiwaError
from .base import SessionDump, SessionInfo, Store


@dataclass
class MigrateReport:
    copied: int = 0  # sessions
    items: int = 0
    turns: int = 0
    already_there: int = 0
    changed_since: list[str] = field(default_factory=list)  # already there, but with another number of turns
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (session id, why) not copied

    def skipped_line(self) -> str:
        """Which sessions were not copied and why (the first few), for an `error:` line."""
        shown = "; ".join(f"{sid[-8:]}: {why}" for sid, why in self.skipped[:3])
        more = f"; and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
        return f"{_count(len(self.skipped), 'session')} not copied ({shown}{more})"

    def line(self, source: str, target: str) -> str:
        text = (
            f"copied {_count(self.copied, 'session')} ({_count(self.items, 'item')}, {_count(self.turns, 'turn')})"
            f" from {source} to {target}"
        )
        if self.already_there:
            text += f"; {self.already_there} already there, left as they are"
        if self.changed_since:
            shown = ", ".join(sid[-8:] for sid in self.changed_since[:5])
            more = f" and {len(self.changed_since) - 5} more" if len(self.changed_since) > 5 else ""
            text += (
                f" ({len(self.changed_since)} differ: {shown}{more} — continue them where you want them kept, or"
                " delete them there and migrate again)"
            )
        return text


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _why(exc: Exception) -> str:
    text = exc.message if isinstance(exc, KaiwaError) else f"{type(exc).__name__}: {exc}"
    return (text.strip().splitlines() or [type(exc).__name__])[0][:160]


async def _copy(source: Store, target: Store, info: SessionInfo, report: MigrateReport) -> None:
    """One session, unless the target has it. Another migrate copying the same session at the same moment makes
    this one's insert fail (a unique violation, a deadlock): then the session is there, or it is tried once more."""
    for attempt in range(2):
        existing = await target.get_session(info.session_id)
        if existing is not None:
            report.already_there += 1
            if existing.turns != info.turns:
                report.changed_since.append(info.session_id)
            return
        items = await source.items(info.session_id)
        turns = await source.turns(info.session_id)
        try:
            await target.create_session(SessionDump(info=info, items=items, turns=turns))
        except Exception as exc:  # noqa: BLE001 - one session's failure is said, the others still copied
            if attempt == 0:
                continue
            report.skipped.append((info.session_id, _why(exc)))
            return
        report.copied += 1
        report.items += len(items)
        report.turns += len(turns)
        return


async def migrate(source: Store, target: Store, progress: Callable[[int, int], None] | None = None) -> MigrateReport:
    """Copy every session of `source` that `target` lacks; one that cannot be copied is skipped and named in
    the report, never a stop. `progress(done, total)` after each session."""
    report = MigrateReport()
    report.skipped = [(sid, "its stored times are out of range") for sid in await source.unlisted()]
    sessions = await source.list_sessions()
    for done, info in enumerate(reversed(sessions), 1):  # oldest first: an interrupted run resumes cleanly
        await _copy(source, target, info, report)
        if progress is not None:
            progress(done, len(sessions))
    return report
