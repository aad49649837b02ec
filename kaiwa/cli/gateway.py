"""`chat.py gateway start|status|stop`: the local gateway without Docker (same config, `.env.litellm`, secrets)."""

from __future__ import annotations

import typer
from rich.console import Console

from ..errors import KaiwaError
from ..redact import mask_url
from .common import DebugOption, fail

gateway_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The local gateway (LiteLLM proxy + offline model on 127.0.0.1) that kaiwa starts when no proxy answers.",
)

_STATE_HINT = "set KAIWA_STATE_DIR to a folder you can write"
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


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

    try:
        with gateway.Progress(progress_of(GatewayView(err))) as progress:
            state, _key = gateway.ensure_running(progress)
        gateway.touch()
    except KaiwaError as exc:
        raise fail(exc, debug) from None
    except OSError as exc:  # e.g. a read-only HOME: the state folder cannot be made
        where = f" ({exc.filename})" if exc.filename else ""
        raise fail(
            KaiwaError(f"cannot start the local gateway: {exc.strerror or exc}{where}", _STATE_HINT), debug
        ) from None
    out.print(f"local gateway: {mask_url(state.url)}", markup=False)
    out.print(f"logs: {state.log_path}", markup=False)
    out.print(f"key: in {gateway.gs.paths().key} (kaiwa uses it by itself)", markup=False)


@gateway_app.command()
def status() -> None:
    """Whether the local gateway runs: URL, pids, uptime, memory, log file. Exit code 1 when it does not."""
    from ..gateway import endpoint as gateway

    info = gateway.status()
    if not info["running"]:
        stale = " (a crashed one left its state; the next start cleans it up)" if info.get("stale") else ""
        out.print(f"local gateway: not running{stale}", markup=False)
        out.print(f"logs: {info['log_path']}", markup=False)
        raise typer.Exit(1)
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


@gateway_app.command()
def stop(debug: DebugOption = False) -> None:
    """Stop the local gateway (the proxy and the model server)."""
    from ..gateway import endpoint as gateway

    try:
        stopped = gateway.stop_gateway()
    except OSError as exc:  # e.g. a read-only HOME: the lock file cannot be made
        where = f" ({exc.filename})" if exc.filename else ""
        raise fail(
            KaiwaError(f"cannot stop the local gateway: {exc.strerror or exc}{where}", _STATE_HINT), debug
        ) from None
    if stopped:
        out.print("local gateway: stopped", markup=False)
    else:
        out.print("local gateway: was not running", markup=False)
