"""`chat.py sessions …`: find, read, rename, fork, export, import, delete and compact stored conversations.

Every command names sessions the same way (`store/naming.py`: full UUID, short id or a unique fragment), talks to
the store only through `store/base.py`'s interface (so SQLite and Postgres behave alike), prints readable output on
a terminal and plain output when piped, and fails in one line. `list` imports neither the Agents SDK, openai,
prompt_toolkit nor SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ..errors import UsageError
from ..settings import Settings
from ..words import counted, program
from .common import DebugOption, JsonOption, err_console, load_settings, run_command

if TYPE_CHECKING:
    from ..store.base import SessionInfo, Store

sessions_app = typer.Typer(
    rich_markup_mode=None,
    help="Stored conversations: list (the default), show, search, rename, fork, export, import, delete, compact."
    " A session is named by its full id, its short id (the last 8 characters) or any unique part of 6 or more.",
)

LimitOption = Annotated[int, typer.Option("--limit", "-n", min=1, help="How many, most recently used first.")]
IdArgument = Annotated[str, typer.Argument(help="Session: full id, short id, or a unique part (6+ characters).")]


def with_store[T](settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured store, run `work` on it, close it (KaiwaError for a store that cannot be used)."""
    from ..store import open_store

    async def run() -> T:
        store = open_store(settings)
        try:
            await store.open()
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _guarded(debug: bool, action: Callable[[], None]) -> None:
    """Run a command's body: its failures become one line and an exit code (`run_command`)."""

    def work() -> int:
        action()
        return 0

    run_command(work, debug=debug)


def _out() -> Console:
    return Console(highlight=False)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _note(line: str, style: str = "dim") -> None:
    err_console.print(line, style=style, highlight=False, markup=False, soft_wrap=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- list ------------------------------------------------------------------------------------------------
def _list(limit: int, as_json: bool) -> None:
    from ..ui.format import money, relative_time, tokens
    from ..ui.sanitize import clean as safe
    from ..ui.transcript import session_fields

    async def work(store: Store) -> tuple[list[SessionInfo], list[str]]:
        return await store.list_sessions(limit), await store.unlisted()

    rows, unlisted = with_store(load_settings(), work)
    if unlisted:  # one bad row never breaks the listing: left out, and said
        shown = ", ".join(sid[-8:] for sid in unlisted[:5]) + (" …" if len(unlisted) > 5 else "")
        _note(
            f"left out {counted(len(unlisted), 'session')} whose stored times are out of range ({shown});"
            f" `{program()} sessions delete ID` removes one",
            "yellow",
        )
    if as_json:
        _print_json([session_fields(s) for s in rows])
        return
    out = _out()
    if not rows:
        _note(f'no stored sessions yet — start one: {program()} --input "…"')
        return
    if not out.is_terminal:  # piped: one tab-separated line per session, the full id first
        for s in rows:
            fields = [s.session_id, relative_time(s.updated_at), s.model, str(s.turns)]
            fields += [str(s.input_tokens + s.output_tokens), money(s.cost), safe(_one_line(s.title))]
            sys.stdout.write("\t".join(fields) + "\n")
        return
    cells = [
        [s.short_id, relative_time(s.updated_at), s.model, str(s.turns), tokens(s.input_tokens + s.output_tokens),
         money(s.cost), safe(_one_line(s.title))]
        for s in rows
    ]  # fmt: skip
    out.print(_table(cells, out.width))


HEADERS = ("id", "last used", "model", "turns", "tokens", "cost", "title")
RIGHT = {"turns", "tokens", "cost"}
MODEL, TITLE = 2, 6
MIN_MODEL, MIN_TITLE = 8, 12


def _widths(cells: list[list[str]], width: int) -> list[int]:
    """Each column's width in a `width`-wide terminal: the id, times, counts and cost are never cut (what you copy
    and compare); the title gives way first, down to MIN_TITLE, then the model, down to MIN_MODEL; narrower still,
    the line wraps (rich folds it) rather than cut an id."""
    natural = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(HEADERS)]
    room = width - (len(HEADERS) - 1)  # one space between columns
    over = sum(natural) - room
    widths = list(natural)
    for column, floor in ((TITLE, MIN_TITLE), (MODEL, MIN_MODEL)):
        if over <= 0:
            break
        give = min(over, max(0, widths[column] - min(floor, natural[column])))
        widths[column] -= give
        over -= give
    return widths


def _table(cells: list[list[str]], width: int) -> Any:
    from rich.table import Table

    widths = _widths(cells, width)
    table = Table(box=None, header_style="dim", pad_edge=False, padding=(0, 1, 0, 0), collapse_padding=True)
    for i, name in enumerate(HEADERS):
        table.add_column(
            name,
            justify="right" if name in RIGHT else "left",
            no_wrap=True,
            overflow="ellipsis" if i in (MODEL, TITLE) else "fold",
            width=widths[i],
            min_width=widths[i],
        )
    for row in cells:
        table.add_row(*row)
    return table


@sessions_app.callback(invoke_without_command=True)
def sessions(
    ctx: typer.Context, limit: LimitOption = 20, as_json: JsonOption = False, debug: DebugOption = False
) -> None:
    """Stored conversations, most recently used first (the same as `sessions list`)."""
    if ctx.invoked_subcommand is None:
        _guarded(debug, lambda: _list(limit, as_json))


@sessions_app.command("list")
def list_(limit: LimitOption = 20, as_json: JsonOption = False, debug: DebugOption = False) -> None:
    """Stored conversations, most recently used first: short id, last used, model, turns, tokens, cost, title."""
    _guarded(debug, lambda: _list(limit, as_json))


# -- show, search, rename ------------------------------------------------------------------------------------
TURN_USAGE_FIELDS = (
    "model", "input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens", "cache_write_tokens", "cost",
    "attempts", "outcome",
)  # fmt: skip


def _cache_line(settings: Any, turns: list[Any]) -> str:
    """What prompt caching did over `turns`, its saving priced by the proxy when it answers (else tokens only)."""
    from ..ui.format import cache_totals

    if not any(t.cached_tokens or t.cache_write_tokens for t in turns):
        return ""
    from ..gateway.proxy_info import model_prices

    return cache_totals(turns, model_prices(settings.base_url, settings.api_key))


@sessions_app.command()
def show(session: IdArgument, as_json: JsonOption = False, debug: DebugOption = False) -> None:
    """The conversation as a transcript (Markdown when piped); --json: its fields and messages."""

    def body() -> None:
        from ..store.dump import iso, load
        from ..store.naming import resolve
        from ..ui import transcript

        async def work(store: Store) -> Any:
            return await load(store, await resolve(store, session))

        settings = load_settings()
        dump = with_store(settings, work)
        if as_json:
            fields = transcript.session_fields(dump.info) | {"instructions": dump.info.instructions}
            fields["messages"] = transcript.messages(dump.items)
            fields["turn_usage"] = [
                {k: getattr(t, k) for k in TURN_USAGE_FIELDS} | {"created_at": iso(t.created_at)} for t in dump.turns
            ]
            _print_json(fields)
            return
        cache = _cache_line(settings, dump.turns)
        if (out := _out()).is_terminal:
            transcript.print_transcript(out, dump, cache)
        else:
            sys.stdout.write(transcript.markdown(dump, cache=cache))

    _guarded(debug, body)


@sessions_app.command()
def search(
    text: Annotated[str, typer.Argument(help="Words to find in the messages (full-text search).")],
    limit: LimitOption = 20,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Sessions whose messages contain TEXT, most recently used first, each with a snippet around the match."""

    def body() -> None:
        from ..ui.format import relative_time
        from ..ui.sanitize import clean as safe
        from ..ui.transcript import session_fields

        if not text.strip():
            raise UsageError("nothing to search for", f'give a word, e.g. {program()} sessions search "terraform"')
        hits = with_store(load_settings(), lambda store: store.search(text, limit))
        if as_json:
            _print_json([session_fields(h.session) | {"snippet": h.snippet} for h in hits])
            return
        if not hits:
            _note(f"no stored conversation contains {text!r}")
            return
        out = _out()
        for h in hits:
            s, snippet = h.session, safe(_one_line(h.snippet))
            if out.is_terminal:
                out.print(f"[bold]{s.short_id}[/]  [dim]{relative_time(s.updated_at)}[/]  ", end="")
                out.print(safe(_one_line(s.title)), markup=False)
                out.print(f"    {snippet}", style="dim", markup=False)
            else:
                sys.stdout.write(f"{s.session_id}\t{safe(_one_line(s.title))}\t{snippet}\n")

    _guarded(debug, body)


@sessions_app.command()
def rename(
    session: IdArgument,
    title: Annotated[str, typer.Argument(help="The new title.")],
    debug: DebugOption = False,
) -> None:
    """Give a session a title of your own (otherwise it is its first message)."""

    def body() -> None:
        from ..store.naming import resolve

        new_title = _one_line(title)
        if not new_title:
            raise UsageError("the title is empty", f'give one, e.g. {program()} sessions rename ID "Terraform error"')

        async def work(store: Store) -> SessionInfo:
            info = await resolve(store, session)
            await store.rename(info.session_id, new_title)
            return info

        info = with_store(load_settings(), work)
        _note(f"renamed {info.short_id}: {new_title}")

    _guarded(debug, body)


# -- delete ----------------------------------------------------------------------------------------------
@sessions_app.command()
def delete(
    sessions: Annotated[list[str], typer.Argument(help="Sessions to delete (ids, short ids or unique parts).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (needed when stdin is not a terminal).")] = False,
    debug: DebugOption = False,
) -> None:
    """Remove sessions and everything stored for them, in one transaction. Asks first on a terminal."""

    def body() -> None:
        from ..store.naming import resolve
        from ..ui.format import relative_time
        from ..ui.sanitize import clean as safe

        if not yes and not sys.stdin.isatty():
            raise UsageError("not deleting without confirmation (stdin is not a terminal)", "pass --yes")

        async def find(store: Store) -> list[SessionInfo]:
            found: dict[str, SessionInfo] = {}
            for ref in sessions:
                info = await resolve(store, ref)
                found[info.session_id] = info
            return list(found.values())

        settings = load_settings()
        chosen = with_store(settings, find)
        if not yes:
            for s in chosen:
                turns = counted(s.turns, "turn")
                _note(f"  {s.short_id}  {relative_time(s.updated_at)}  {turns}  {safe(_one_line(s.title))}", "")
            many = f"these {len(chosen)} sessions" if len(chosen) > 1 else "this session"
            from ..ui.ask import confirm

            # Declining is the user's answer, not a failure: said plainly, exit 0 (as `rm -i` does).
            if not confirm(f"Delete {many}? This cannot be undone", "delete"):
                _note("nothing deleted")
                return
        removed = with_store(settings, lambda store: store.delete([s.session_id for s in chosen]))
        _note(f"deleted {counted(removed, 'session')}")

    _guarded(debug, body)
