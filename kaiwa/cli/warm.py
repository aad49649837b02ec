"""`chat.py warm status|stop`: the warm process that serves calls after the first (kaiwa/warm)."""

from __future__ import annotations

import os
import time

import typer
from rich.console import Console

from .common import DebugOption, run_command

warm_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The warm kaiwa process: it keeps kaiwa's libraries loaded and serves each call in a fresh child"
    " (KAIWA_WARM=0 turns it off; it stops itself after KAIWA_WARM_IDLE_MINUTES, 30, unused).",
)


def _files() -> tuple[object, str | None]:
    from ..warm.paths import Files, Unavailable, runtime_dir

    try:
        return Files(runtime_dir()), None
    except (Unavailable, OSError) as exc:
        return None, str(exc)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


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
    info = query(files, "status") if files is not None else None  # type: ignore[arg-type]
    if not isinstance(info, dict):
        out.print(f"warm kaiwa: not running{f' ({problem})' if problem else ''}", markup=False)
        return 1
    rss = f"{info['rss'] / 2**20:.0f} MB" if info.get("rss") else "?"
    idle_left = max(0.0, info["idle_minutes"] * 60 - info["idle_for"])
    state = f"retiring ({info['retiring']})" if info.get("retiring") else "running"
    out.print(f"warm kaiwa: {state}, pid {info['pid']}", markup=False)
    out.print(f"uptime: {_duration(time.time() - info['started'])}; stops itself in {_duration(idle_left)} unless used")
    out.print(f"calls: {info['served']} served, {info['running']} running", markup=False)
    out.print(f"memory: {rss} (shared with its calls until they write)", markup=False)
    out.print(f"loaded: {info['modules']} modules in {info['imports_seconds']:.1f} s", markup=False)
    out.print(f"socket: {info['socket']}", markup=False)
    return 0


@warm_app.command()
def stop(debug: DebugOption = False) -> None:
    """Stop the warm process (calls in flight finish first); the next call runs cold and starts a new one."""

    def work() -> int:
        from ..warm.client import query

        files, _problem = _files()
        answer = query(files, "stop") if files is not None else None  # type: ignore[arg-type]
        Console(highlight=False).print("warm kaiwa: stopped" if answer else "warm kaiwa: was not running", markup=False)
        return 0

    run_command(work, debug=debug)
