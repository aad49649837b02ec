"""`chat.py gateway start|status|stop`: the local gateway without Docker (same config, `.env.litellm`, secrets)."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console

from ..errors import KaiwaError
from ..gateway.progress import RESTART_HINT
from ..redact import mask_url
from .common import DebugOption, run_command

gateway_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The local gateway (LiteLLM proxy + offline model on 127.0.0.1) that kaiwa starts when no proxy answers.",
)

_STATE_HINT = "set KAIWA_STATE_DIR to a folder you can write"
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _state_folder_line(verb: str, work: Callable[[], int]) -> Callable[[], int]:
    """`work`, with an OSError of the state folder (a read-only HOME: it cannot be made) as one line."""

    def guarded() -> int:
        try:
            return work()
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise KaiwaError(f"cannot {verb} the local gateway: {exc.strerror or exc}{where}", _STATE_HINT) from exc

    return guarded


def _mb(value: int | None) -> str:
    return f"{value / 2**20:.0f} MB" if value is not None else "?"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


@gateway_app.command()
def start(debug: DebugOption = False) -> None:
    """Start the local gateway (or reuse the running one) and wait until it answers.

    It reads litellm_config.yaml, .env.litellm and ./secrets like `docker compose up`, listens on
    127.0.0.1:4100 (KAIWA_GATEWAY_PORT) and stops itself after KAIWA_GATEWAY_IDLE_MINUTES (30) unused.
    """
    from ..core.events import progress_of
    from ..gateway import endpoint as gateway
    from ..ui.progress import GatewayView

    def work() -> int:
        with gateway.Progress(progress_of(GatewayView(err))) as progress:
            state, _key = gateway.ensure_running(progress)
        gateway.touch()
        out.print(f"local gateway: {mask_url(state.url)}", markup=False)
        out.print(f"logs: {state.log_path}", markup=False)
        out.print(f"key: in {gateway.gs.paths().key} (kaiwa uses it by itself)", markup=False)
        return 0

    run_command(_state_folder_line("start", work), debug=debug, interrupted=RESTART_HINT)


@gateway_app.command()
def status(debug: DebugOption = False) -> None:
    """Whether the local gateway runs: URL, pids, uptime, memory, log file. Exit code 1 when it does not."""
    run_command(_status, debug=debug)


def _status() -> int:
    from ..gateway import endpoint as gateway

    info = gateway.status()
    if not info["running"]:
        stale = " (a crashed one left its state; the next start cleans it up)" if info.get("stale") else ""
        out.print(f"local gateway: not running{stale}", markup=False)
        out.print(f"logs: {info['log_path']}", markup=False)
        return 1
    health = "listening" if info["healthy"] else "NOT listening (starting, or stuck: see the log)"
    out.print(f"local gateway: running, {health}", markup=False)
    out.print(f"url: {mask_url(info['url'])}", markup=False)
    out.print(f"uptime: {_duration(info['uptime_s'])}; stops itself in {_duration(info['idle_stop_in_s'])} unless used")
    total = 0
    for name, proc in info["processes"].items():
        total += proc["rss"] or 0
        out.print(f"{name}: pid {proc['pid']}, {_mb(proc['rss'])}", markup=False)
    out.print(f"memory: {_mb(total)} in all", markup=False)
    out.print(f"logs: {info['log_path']}", markup=False)
    return 0


@gateway_app.command()
def stop(debug: DebugOption = False) -> None:
    """Stop the local gateway (the proxy and the model server)."""

    def work() -> int:
        from ..gateway import endpoint as gateway

        stopped = gateway.stop_gateway()
        out.print("local gateway: stopped" if stopped else "local gateway: was not running", markup=False)
        return 0

    run_command(_state_folder_line("stop", work), debug=debug)
