"""The command line: Typer commands only. Each command turns options into settings and hands them to the parts
(`chat`, `store`, `gateway`, `tools`); nothing here imports the Agents SDK or openai at module level."""

from __future__ import annotations

import functools
from typing import Any

import typer.main

from . import acp, main, migrate, schema, sessions_copy, setup, status, trust, usage  # noqa: F401  (registers the commands)
from .common import app
from .gateway import gateway_app
from .migrate import migrate_command
from .roles import roles_app
from .sessions import sessions_app
from .warm import warm_app

sessions_app.command("migrate")(migrate_command)
app.add_typer(sessions_app, name="sessions")
app.add_typer(roles_app, name="roles")
app.add_typer(gateway_app, name="gateway", help="Manage the local gateway kaiwa starts when no proxy answers.")
app.add_typer(warm_app, name="warm", help="The warm process that makes every call after the first start at once.")


@functools.cache
def command() -> Any:
    """The click command Typer builds out of `app` (tens of milliseconds): once a process; the warm process
    (kaiwa/warm) builds it before it forks, so its calls do not."""
    return typer.main.get_command(app)


def _named(command: Any) -> Any:
    """The help texts (written with `chat.py`) in the name this call goes by (`words.as_called`): the installed
    `kaiwa` shows `kaiwa …`. Per call: the warm process builds the command once for both names."""
    from ..words import as_called, program

    if program() == "chat.py":
        return command
    todo = [command]
    while todo:
        cmd = todo.pop()
        for name in ("help", "epilog", "short_help"):
            if isinstance(getattr(cmd, name, None), str):
                setattr(cmd, name, as_called(getattr(cmd, name)))
        for param in cmd.params:
            if isinstance(getattr(param, "help", None), str):
                param.help = as_called(param.help)
        todo.extend(getattr(cmd, "commands", {}).values())
    return command


def run() -> None:
    """The entry point: every way out is one line or quiet (usage errors, undecodable arguments, a closed pipe)."""
    import sys

    from .entry import finish

    # What app(...) does, with the click command built once (pretty exceptions are off: no hook to set).
    finish(lambda: _named(command())(args=sys.argv[1:], standalone_mode=False))
