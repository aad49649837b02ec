"""`chat.py trust [PATH]`, `trust --list`, `trust --revoke [PATH]`: which folders' own files kaiwa uses
(`.env.app`, `.env.litellm`, `secrets/vertex-service-account.json`, `.kaiwa/roles/`, the MCP config `.env.app`
names). The rules and the records are kaiwa/trust.py's."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Annotated

import typer

from .. import trust
from ..errors import UsageError
from ..redact import mask_url
from ..settings import HARMLESS, OURS, read_env_file
from ..ui.sanitize import clean
from ..words import program
from .common import DebugOption, app, err_console, run_command


def _mcp_commands(path: Path) -> str:
    """What the MCP config would start or reach, per server (read loosely: only to show it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return "unreadable"
    servers = data.get("mcpServers", data.get("servers")) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        return "no servers"
    shown = []
    for name, raw in servers.items():
        if not isinstance(raw, dict):
            continue
        if isinstance(raw.get("command"), str):
            args = [a for a in raw.get("args", []) if isinstance(a, str)] if isinstance(raw.get("args"), list) else []
            shown.append(f"{name}: runs {clean(shlex.join([raw['command'], *args]))}")
        elif isinstance(raw.get("url"), str):
            shown.append(f"{name}: {clean(mask_url(raw['url']))}")
    return "; ".join(shown) or "no servers"


def describe(folder: Path) -> list[str]:
    """What trusting `folder` lets kaiwa use, one entry a file."""
    parts: list[str] = []
    env_app = folder / ".env.app"
    if env_app.is_file():
        values = read_env_file(env_app)
        gated = [
            f"{name}={clean(mask_url(values[name]))}" if name != "LITELLM_API_KEY" else f"{name} (not shown)"
            for name in values
            if name not in HARMLESS and name.startswith(OURS)
        ]
        parts.append(".env.app" + (f" (sets {', '.join(gated)})" if gated else ""))
        mcp = trust.named_mcp_config(folder, env_app.read_bytes())
        if mcp is not None:
            parts.append(f"the MCP config {mcp} ({_mcp_commands(mcp)})")
    parts += [name for name in trust.FOLDER_FILES[1:] if (folder / name).is_file()]
    roles = trust.role_files_in(folder)
    if roles:
        parts.append(f"{trust.ROLES}/ ({', '.join(clean(r.name.removesuffix('.md')) for r in roles)})")
    return parts


def _folders(paths: list[Path] | None) -> list[Path]:
    if not paths:
        return trust.folders_here()
    chosen = []
    for path in paths:
        folder = path.expanduser()
        if not folder.is_dir():
            raise UsageError(f"{path} is not a folder", "give the folder that holds .env.app or .kaiwa/")
        chosen.append(folder.absolute())
    return chosen


def _trust(paths: list[Path] | None) -> int:
    done = 0
    for folder in _folders(paths):
        if trust.state(folder) == "own":
            err_console.print(f"{clean(str(folder))} is kaiwa's own checkout: always trusted", highlight=False)
            done += 1
            continue
        parts = describe(folder)
        if not parts:
            continue
        trust.trust(folder)
        done += 1
        print(clean(f"trusted {folder}: {'; '.join(parts)}"))
    if not done:
        where = ", ".join(str(f) for f in _folders(paths))
        raise UsageError(
            f"nothing to trust in {where}: no .env.app, .env.litellm, secrets/ key or .kaiwa/roles/",
            f"run it in the folder whose files you want kaiwa to use, or name it: `{program()} trust PATH`",
        )
    err_console.print("kaiwa asks again when any of these files changes", style="dim", highlight=False)
    return 0


def _list() -> int:
    records = trust.load_records()
    for path, record in sorted(records.items()):
        folder = Path(path)
        state = trust.state(folder, records) if folder.is_dir() else "gone"
        when = record.get("trusted_at")
        date = time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if isinstance(when, int) else "?"
        shown = {"trusted": "trusted", "changed": "changed since (not used)", "gone": "folder gone"}.get(state, state)
        print(clean(f"{path}\t{date}\t{shown}"))
    if not records:
        err_console.print(f"no folder is trusted (`{program()} trust` in one)", style="dim", highlight=False)
    return 0


def _revoke(paths: list[Path] | None) -> int:
    folders = [p.expanduser().absolute() for p in paths] if paths else trust.folders_here()
    for folder in folders:
        if trust.revoke(folder):
            print(clean(f"no longer trusted: {trust.real(folder)}"))
        else:
            err_console.print(clean(f"{folder} was not trusted"), style="dim", highlight=False)
    return 0


@app.command("trust")
def trust_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="Folders to trust; default: the ones this call reads (here, and the project above with .kaiwa/).",
            show_default=False,
        ),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="The trusted folders, and whether they changed since.")] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="Stop trusting these folders (default: here).")] = False,
    debug: DebugOption = False,
) -> None:
    """Let kaiwa use a folder's own files: .env.app (where your key goes, the MCP servers it starts), .env.litellm,
    .kaiwa/roles/. Kept by path and content: any change to them asks again."""

    def work() -> int:
        if list_ and (revoke or paths):
            raise UsageError("--list takes no folder and no --revoke", f"e.g. `{program()} trust --list`")
        return _list() if list_ else _revoke(paths) if revoke else _trust(paths)

    run_command(work, debug=debug)
