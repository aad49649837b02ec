"""`chat.py roles` and `chat.py roles show NAME`: the roles `-r NAME` can pick, and where each comes from.

Imports neither the Agents SDK, openai nor a store: listing roles reads a few small files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ..errors import KaiwaError
from ..settings import untrusted_notice
from .common import DebugOption, JsonOption, err_console, error_line, run_command, say_untrusted

if TYPE_CHECKING:
    from ..roles import Role

roles_app = typer.Typer(
    rich_markup_mode=None,
    help="Roles: named instructions, model and settings (NAME.md files), used with -r NAME or /role NAME."
    " Looked for in a trusted project's .kaiwa/roles/ (here or above), then ~/.config/kaiwa/roles/"
    " ($XDG_CONFIG_HOME), then kaiwa's own.",
)


def _safe(text: str) -> str:
    from ..ui.sanitize import clean  # a project's role file comes from a repository: it must not drive the terminal

    return clean(text)


def _guarded(debug: bool, action: Callable[[], int]) -> None:
    def work() -> int:
        say_untrusted(untrusted_notice())  # a project's roles left out: say why
        return action()

    run_command(work, debug=debug)


def _fields(role: Role) -> dict[str, Any]:
    s = role.settings
    return {
        "name": role.name,
        "origin": role.origin,
        "path": role.path,
        "overrides": list(role.shadows),
        "model": s.model,
        "reasoning": s.reasoning,
        "temperature": s.temperature,
        "max_output_tokens": s.max_output_tokens,
        "verbosity": s.verbosity,
        "tools": s.tools,
        "mcp": list(s.mcp) if s.mcp is not None else None,
        "instructions": role.instructions,
    }


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _problems(problems: list[KaiwaError]) -> int:
    for problem in problems:
        err_console.print(error_line(problem), style="bold red", highlight=False, markup=False, soft_wrap=True)
    return 2 if problems else 0


def _list(as_json: bool) -> int:
    from ..roles import load_roles

    roles, problems = load_roles()
    if as_json:
        _print_json([_fields(r) for r in roles])
        return _problems(list(problems))
    out = Console(highlight=False)
    if not out.is_terminal:  # piped: name, origin, model, first line — tab-separated, one role a line
        for r in roles:
            fields = [r.name, r.origin, r.settings.model or "", r.summary]  # a model name is any text, too
            sys.stdout.write("\t".join(_safe(f.replace("\t", " ")) for f in fields) + "\n")
        return _problems(list(problems))
    from rich.table import Table

    rows = [
        (
            _safe(r.name),
            r.origin + (f" (over {', '.join(r.shadows)})" if r.shadows else ""),
            _safe(r.settings.model or "–"),
            _safe(r.summary),
        )
        for r in roles
    ]
    table = Table(box=None, header_style="dim", pad_edge=False)
    widths = [max([len(name)] + [len(row[i]) for row in rows]) for i, name in enumerate(("name", "from", "model"))]
    for width, name in zip(widths, ("name", "from", "model"), strict=True):  # these stay whole
        table.add_column(name, no_wrap=True, min_width=width)
    rest = max(12, out.width - sum(widths) - 2 * len(widths))  # the instructions give way, with an ellipsis
    table.add_column("instructions", overflow="ellipsis", no_wrap=True, max_width=rest)
    for row in rows:
        table.add_row(*row)
    out.print(table)
    return _problems(list(problems))


def _show(name: str, as_json: bool) -> int:
    from ..roles import load_role

    role = load_role(name)
    if as_json:
        _print_json(_fields(role))
        return 0
    lines = [f"role: {role.name}", f"from: {role.origin} ({role.path})"]
    if role.shadows:
        lines.append(f"overrides: {', '.join(role.shadows)}")
    for key, value in _fields(role).items():
        if key in ("name", "origin", "path", "overrides", "instructions") or value is None:
            continue
        if key == "tools" and value is True:
            continue
        shown = ", ".join(value) if isinstance(value, list) else str(value).lower() if value is False else value
        lines.append(f"{key}: {shown}")
    lines.append("")
    lines.append(role.instructions or "(no instructions: kaiwa's default)")
    sys.stdout.write(_safe("\n".join(lines)) + "\n")
    return 0


@roles_app.callback(invoke_without_command=True)
def roles(ctx: typer.Context, as_json: JsonOption = False, debug: DebugOption = False) -> None:
    """The roles you can use: name, where it comes from, model, and the first line of its instructions."""
    if ctx.invoked_subcommand is None:
        _guarded(debug, lambda: _list(as_json))


@roles_app.command("list")
def list_(as_json: JsonOption = False, debug: DebugOption = False) -> None:
    """The roles you can use (the same as `roles`)."""
    _guarded(debug, lambda: _list(as_json))


@roles_app.command()
def show(
    name: Annotated[str, typer.Argument(help="The role's name, e.g. review.")],
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """One role: where it comes from, what it sets, and its instructions."""
    _guarded(debug, lambda: _show(name, as_json))
