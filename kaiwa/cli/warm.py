"""`chat.py warm status|stop`: the warm process that serves calls after the first (kaiwa/warm)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from .common import DebugOption, run_command

if TYPE_CHECKING:
    from ..warm.paths import Files

warm_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The warm kaiwa process: it keeps kaiwa's libraries loaded and serves each call in a fresh child"
    " (KAIWA_WARM=0 turns it off; it stops itself after KAIWA_WARM_IDLE_MINUTES, 30, unused).",
)


def _files() -> tuple[Files | None, str | None]:
    from ..warm.paths import Files, Unavailable, runtime_dir

    try:
        return Files(runtime_dir()), None
    except (Unavailable, OSError) as exc:
        return None, str(exc)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _all(files: Files | None) -> list[Files]:
    """This installation's warm processes: the first one's files, then those serving other environments."""
    from ..warm.paths import variants

    return [files, *variants(files)] if files is not None else []


@warm_app.command()
def status(debug: DebugOption = False) -> None:
    """Whether a warm process serves this installation: pid, uptime, calls, memory. Exit code 1 when not."""
    run_command(_status, debug=debug)


def _status() -> int:
    from ..warm.client import query

    out = Console(highlight=False)
    if os.environ.get("KAIWA_WARM", "").strip() == "0":
        out.print("warm kaiwa: off (KAIWA_WARM=0)", markup=False)
    files, problem = _files()
    infos = [info for f in _all(files) if isinstance(info := query(f, "status"), dict)]
    if not infos:
        out.print(f"warm kaiwa: not running{f' ({problem})' if problem else ''}", markup=False)
        return 1
    for number, info in enumerate(infos):
        if number:
            out.print()
        _print_status(out, info, other=number > 0)
    return 0


def _print_status(out: Console, info: dict[str, Any], other: bool) -> None:
    rss = f"{info['rss'] / 2**20:.0f} MB" if info.get("rss") else "?"
    idle_left = max(0.0, info["idle_minutes"] * 60 - info["idle_for"])
    state = f"retiring ({info['retiring']})" if info.get("retiring") else "running"
    whose = " (for another environment: a different value of what the libraries read while loading)" if other else ""
    out.print(f"warm kaiwa: {state}, pid {info['pid']}{whose}", markup=False)
    out.print(f"uptime: {_duration(time.time() - info['started'])}; stops itself in {_duration(idle_left)} unless used")
    out.print(f"calls: {info['served']} served, {info['running']} running", markup=False)
    out.print(f"memory: {rss} (shared with its calls until they write)", markup=False)
    out.print(f"loaded: {info['modules']} modules in {info['imports_seconds']:.1f} s", markup=False)
    out.print(f"socket: {info['socket']}", markup=False)


@warm_app.command()
def stop(debug: DebugOption = False) -> None:
    """Stop the warm processes (calls in flight finish first). The next call runs cold and starts a new one:
    KAIWA_WARM=0 keeps them off."""
    run_command(_stop, debug=debug)


def _stop() -> int:
    from ..warm.client import query

    out = Console(highlight=False)
    files, _problem = _files()
    stopped = sum(1 for f in _all(files) if query(f, "stop"))
    if not stopped:
        out.print("warm kaiwa: was not running", markup=False)
        return 0
    what = "stopped" if stopped == 1 else f"stopped ({stopped} warm processes)"
    out.print(f"warm kaiwa: {what}; the next call starts it again (KAIWA_WARM=0 keeps it off)", markup=False)
    return 0
