"""What a role (kaiwa/roles) sets, applied to a conversation's turn options and tools.

- At start (`-r NAME`, or the role a resumed session remembers), the options given on the command line win over
  the role's, and the role's win over the settings (LITELLM_MODEL, KAIWA_*).
- `/role NAME` is a later choice than the command line: the role's settings apply; what it does not set comes
  back from the command line and the settings (so a previous role's model does not linger).
- Instructions: --system, else the role's, else what the session has (a new one: KAIWA_SYSTEM or kaiwa's
  default). A role without instructions leaves the session's; a role's own instructions leave with the role.
- Tools: `tools: false` gives the model none; `mcp: [a, b]` only those configured servers (a name the MCP config
  does not have is one line, exit 2). --no-tools always wins.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .options import TurnOptions

if TYPE_CHECKING:
    from ..roles import Role

SETTINGS = ("model", "reasoning", "temperature", "max_output_tokens", "verbosity")


def with_role(base: TurnOptions, current: TurnOptions, role: Role | None, given: frozenset[str]) -> TurnOptions:
    """`current` with each setting `role` sets (unless `given` on the command line) and the rest from `base`."""
    changes: dict[str, Any] = {"role": role.name if role is not None else None}
    for key in SETTINGS:
        if not hasattr(base, key):  # a control this build's turn options do not carry
            continue
        value = getattr(role.settings, key) if role is not None else None
        changes[key] = getattr(base, key) if value is None or key in given else value
    return dataclasses.replace(current, **changes)


def instructions_after(current: str | None, old: Role | None, new: Role | None, fallback: str | None) -> str | None:
    """The instructions once `new` replaces `old`: the new role's own, else the session's as they are — unless they
    were the old role's, which leave with it (`fallback` then: --system, KAIWA_SYSTEM or kaiwa's default)."""
    if old is not None and old.instructions and current == old.instructions:
        current = fallback
    if new is not None and new.instructions:
        return new.instructions
    return current


def tools_for(role: Role | None, use_tools: bool, specs: list[Any], config_path: str) -> tuple[bool, list[Any]]:
    """(tools on, the MCP servers to connect) under `role`. `specs`: every server the MCP config has."""
    if not use_tools or (role is not None and not role.settings.tools):
        return False, []
    if role is None or role.settings.mcp is None:
        return True, specs
    by_name = {spec.name: spec for spec in specs}
    for name in role.settings.mcp:
        if name not in by_name:
            configured = ", ".join(by_name) or "none"
            raise UsageError(
                f"the role {role.name!r} names the MCP server {name!r}, which {config_path} does not have",
                f"configured servers: {configured}; fix mcp: in {role.path} or the MCP config",
            )
    return True, [by_name[name] for name in role.settings.mcp]


def stored_role(name: str | None, notice: Any) -> Role | None:
    """The role a resumed session remembers; a role file that is gone is said once and the session goes on
    without it (its stored instructions stay). A broken one is its one line, as with -r."""
    from ..roles import load_role, role_files

    if name is None:
        return None
    if name not in role_files():
        notice(f"this session's role {name!r} is no longer found; going on without it (-r NAME picks one)")
        return None
    return load_role(name)
