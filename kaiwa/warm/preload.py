"""What the warm process imports before it forks, and which environment variables those imports read.

Everything a one-shot, the REPL and `sessions` use, except kaiwa.cli (its module-level consoles decide about
colours and the terminal when created: they must be created in each call, with its own stdout and environment).
A variable read at import (openai reads OPENAI_LOG, the SDK its logging switches, typer TYPER_USE_RICH, …) is
remembered with its value: a call whose environment differs in one of them runs cold.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Imported inside functions by kaiwa (so `--help` stays fast when cold): the warm process imports them first.
LIBRARIES = (
    "agents",
    "agents.extensions.memory",
    "agents.mcp",
    "openai",
    "openai.types.responses",
    "openai.types.shared",
    "httpx2",
    "pydantic",
    "jsonschema",
    "mcp",
    "mcp.client.stdio",
    "mcp.client.streamable_http",
    "sqlalchemy",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.sqlite",
    "asyncpg",
    "prompt_toolkit",
    "prompt_toolkit.shortcuts",
    "prompt_toolkit.key_binding",
    "prompt_toolkit.history",
    "rich",
    "rich.console",
    "rich.markdown",
    "rich.live",
    "rich.syntax",
    "rich.table",
    "typer",
    "click",
    "dotenv",
    "uuid6",
    "asyncio",
    "sqlite3",
    "json",
    "subprocess",
    "tempfile",
    "ssl",
)
SKIP = ("kaiwa.cli", "kaiwa.warm", "kaiwa.__main__", "kaiwa.entry", "kaiwa.gateway.supervisor")
# Read at import, but each call sets them right again (child.py): not a reason to run cold.
FIXED_PER_CALL = frozenset({"HOME", "TZ", "TMPDIR", "TEMP", "TMP"})


@contextmanager
def recording() -> Iterator[dict[str, str | None]]:
    """Record every os.environ key read inside (get, [], in) with the value it had."""
    seen: dict[str, str | None] = {}
    cls: Any = type(os.environ)
    get, getitem, contains = cls.get, cls.__getitem__, cls.__contains__

    def note(env: Any, key: Any) -> None:
        if env is os.environ and isinstance(key, str) and key not in seen:
            raw = env._data.get(env.encodekey(key))  # the raw store: no recursion into the patched methods
            seen[key] = None if raw is None else env.decodevalue(raw)

    def rec_get(env: Any, key: Any, default: Any = None) -> Any:
        note(env, key)
        return get(env, key, default)

    def rec_getitem(env: Any, key: Any) -> Any:
        note(env, key)
        return getitem(env, key)

    def rec_contains(env: Any, key: Any) -> bool:
        note(env, key)
        return bool(contains(env, key))

    cls.get, cls.__getitem__, cls.__contains__ = rec_get, rec_getitem, rec_contains
    try:
        yield seen
    finally:
        cls.get, cls.__getitem__, cls.__contains__ = get, getitem, contains


def kaiwa_modules() -> list[str]:
    import kaiwa

    names = []
    for info in pkgutil.walk_packages(kaiwa.__path__, "kaiwa."):
        if not info.name.startswith(SKIP):
            names.append(info.name)
    return names


def preload(log: Any) -> dict[str, str | None]:
    """Import everything; the environment variables read meanwhile, with their values."""
    with recording() as seen:
        for name in (*LIBRARIES, *kaiwa_modules()):
            try:
                importlib.import_module(name)
            except Exception as exc:  # an optional part missing: the call imports it (or fails) as cold
                log(f"preload: {name} not imported ({type(exc).__name__})")
    return {k: v for k, v in seen.items() if k not in FIXED_PER_CALL}
