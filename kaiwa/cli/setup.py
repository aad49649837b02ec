"""`chat.py setup`: point kaiwa at a proxy (or its own local gateway) and write ~/.config/kaiwa/.env.app."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from ..errors import KaiwaError
from .common import DebugOption, app, run_command


@app.command()
def setup(
    url: Annotated[str | None, typer.Option("--url", help="The proxy's URL, e.g. http://localhost:4000/v1.")] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="The proxy's key (default: LITELLM_API_KEY when not asked).")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="The default model (an alias it offers).")] = None,
    local: Annotated[bool, typer.Option("--local", help="Use kaiwa's own local gateway instead of a proxy.")] = False,
    debug: DebugOption = False,
) -> None:
    """Set up kaiwa: the proxy's URL and key, checked against the proxy, and a default model it offers, written to
    ~/.config/kaiwa/.env.app (0600). Asks on a terminal; with --url/--key/--model or --local it asks nothing."""
    from ..ui.setup import Given, ask_on_terminal, run_setup

    interactive = url is None and not local and sys.stdin is not None and sys.stdin.isatty()
    out = Console(highlight=False)

    def work() -> int:
        try:
            run_setup(Given(url, key, model, local), ask_on_terminal if interactive else None, out)
        except EOFError:
            raise KeyboardInterrupt from None  # the question's input ended: as Ctrl-C, nothing written
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise KaiwaError(f"cannot write the settings: {exc.strerror or exc}{where}", "check that folder") from exc
        return 0

    run_command(work, debug=debug, interrupted="setup cancelled; nothing was written")
