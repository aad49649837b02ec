"""`chat.py acp`: kaiwa as an Agent Client Protocol agent on stdin/stdout, for editors (Zed, Neovim, …)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DebugOption, app, run_command


@app.command("acp")
def acp_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="The model new sessions start with (LITELLM_MODEL).")
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", "-r", metavar="NAME", help="The role new sessions start with.")
    ] = None,
    mcp_config: Annotated[
        Path | None, typer.Option("--mcp-config", help="MCP servers file; the editor's own servers join these.")
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Serve an editor over the Agent Client Protocol on stdin/stdout (Zed's agent_servers, CodeCompanion, …).
    stdout carries only the protocol; kaiwa's notices go to stderr."""

    def work() -> int:
        from ..core.options import Setup
        from ..settings import load_settings

        settings = load_settings()
        chosen = None
        if role is not None:
            from ..roles import load_role

            chosen = load_role(role)
        setup = Setup(
            model=model or settings.model, reasoning=settings.reasoning, mcp_config=mcp_config, role=chosen,
            given=frozenset({"model"} if model else ()),
        )  # fmt: skip
        from ..ui.acp import serve

        return serve(settings, setup, debug)

    run_command(work, debug=debug)
