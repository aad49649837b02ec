"""Roles: a named set of instructions, model and settings (`NAME.md` files), picked with `-r NAME` or `/role NAME`.

Bottom layer: imports only `kaiwa.settings` and `kaiwa.errors` (and PyYAML, when a role file is read).
"""

from __future__ import annotations

from .catalog import Origin, Role, RoleFile, folders, load_role, load_roles, role_files, unknown_role
from .front_matter import KEYS, RoleSettings

__all__ = [
    "KEYS",
    "Origin",
    "Role",
    "RoleFile",
    "RoleSettings",
    "folders",
    "load_role",
    "load_roles",
    "role_files",
    "unknown_role",
]
