"""`chat.py status [--json]`: on one screen, what kaiwa would use — the proxy and why, the key's source (never the
key), the default model and whether the proxy offers it, where conversations are kept, the warm process and the
local gateway. It starts nothing."""

from __future__ import annotations

import json
import os
from typing import Any

from rich.console import Console

from ..redact import mask_url
from ..settings import load_settings
from .common import DebugOption, JsonOption, app, run_command


def _warm() -> dict[str, Any]:
    from ..warm.client import query
    from ..warm.paths import Files, Unavailable, runtime_dir

    if os.environ.get("KAIWA_WARM", "").strip() == "0":
        return {"running": False, "off": True}
    try:
        info = query(Files(runtime_dir()), "status")
    except (Unavailable, OSError):
        info = None
    if not isinstance(info, dict):
        return {"running": False}
    return {"running": True, "pid": info.get("pid"), "served": info.get("served")}


def _store(settings: Any) -> dict[str, str]:
    if settings.db_url:
        return {"kind": "postgres", "where": mask_url(settings.db_url)}
    return {"kind": "sqlite", "where": str(settings.db_path.expanduser().absolute())}


def _lines(info: dict[str, Any]) -> list[str]:
    endpoint, model, gateway, warm = info["endpoint"], info["model"], info["gateway"], info["warm"]
    offered = {True: "offered by the proxy", False: "NOT offered by the proxy", None: model["problem"] or "not asked"}
    lines = [
        f"proxy: {endpoint['url'] or 'the local gateway (not running)'}",
        f"  why: {endpoint['why']}",
        f"key: {info['key']['source']}",
        f"model: {model['name']} ({model['source']}; {offered[model['offered']]})",
    ]
    if model["offered"] is False and model["aliases"]:
        lines.append(f"  the proxy offers: {', '.join(model['aliases'][:12])}")
    lines.append(f"conversations: {info['store']['where']}")
    if warm.get("off"):
        lines.append("warm process: off (KAIWA_WARM=0)")
    else:
        lines.append(f"warm process: running, pid {warm['pid']}" if warm["running"] else "warm process: not running")
    if gateway["running"]:
        lines.append(
            f"local gateway: running at {mask_url(gateway['url'])}, pid {gateway['processes']['supervisor']['pid']}"
        )
    else:
        lines.append("local gateway: not running")
    lines.append(f"  logs: {gateway['log_path']}")
    return lines


@app.command()
def status(json_output: JsonOption = False, debug: DebugOption = False) -> None:
    """What kaiwa would use now: the proxy and why, the key's source, the default model, where conversations are
    kept, the warm process and the local gateway. Starts nothing."""
    from ..gateway.report import endpoint_report

    def work() -> int:
        settings = load_settings()
        info = endpoint_report(settings)
        info["store"] = _store(settings)
        info["warm"] = _warm()
        info["gateway"] = {k: v for k, v in info["gateway"].items() if k != "key_file"}
        if json_output:
            print(json.dumps(info, indent=2))
            return 0
        out = Console(highlight=False)
        for line in _lines(info):
            out.print(line, markup=False, soft_wrap=True)
        return 0

    run_command(work, debug=debug)
