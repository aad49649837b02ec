"""`/role`: the role in use, and switching to another (or none) from the next turn on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.role_use import SETTINGS
from .commands import check_alias
from .registry import command
from .state import Repl

if TYPE_CHECKING:
    from ...core.protocol import Conversation


def describe(conversation: Conversation) -> str:
    """The role, where it comes from, and what the next turn is sent with."""
    role, options = conversation.role, conversation.options
    parts = [f"role {role.name} ({role.origin})" if role is not None else "no role", f"model {options.model}"]
    for key in SETTINGS[1:]:
        value = getattr(options, key, None)
        if value is not None:
            parts.append(f"{key.replace('_', ' ')} {value:g}" if isinstance(value, float) else f"{key} {value}")
    if not conversation.uses_tools:
        parts.append("no tools")
    elif role is not None and role.settings.mcp is not None:
        parts.append("MCP: " + (", ".join(conversation.mcp_servers) or "none"))
    return " · ".join(parts).replace("max_output_tokens", "max output tokens")


@command("role", "/role [NAME|off]", "the role in use, or switch to one from the next turn on (chat.py roles)")
async def _role(repl: Repl, arg: str) -> None:
    from ...roles import load_role

    conversation = repl.conversation
    if not arg:
        repl.say(describe(conversation))
        if conversation.role is not None and conversation.role.summary:
            repl.say(f"  {conversation.role.summary}")
        return
    role = None if arg.lower() == "off" else load_role(arg)  # unknown or broken: one line, the REPL stays
    if role is not None and role.replaces:
        repl.say(role.replaces)
    if role is not None and role.settings.model:
        check_alias(role.settings.model, await repl.fetch_aliases() or repl.aliases)  # /model's line
    await conversation.use_role(role)
    await conversation.save_role()
    repl.say(describe(conversation) + " · from the next turn on")
