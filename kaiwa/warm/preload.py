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
    "agents.memory.sqlite_session",
    "openai",
    "openai.types.responses",
    "openai.types.shared",
    "httpx2",
    "httpcore2",
    "httpcore2._async.connection_pool",
    "httpcore2._backends.anyio",
    "h11",
    "anyio._backends._asyncio",
    "anyio.streams.tls",
    "truststore",
    "concurrent.futures.thread",
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
    "rich._emoji_codes",
    "typer",
    "typer._adapters",
    "typer._click.decorators",
    "typer._click._textwrap",
    "click",
    "dotenv",
    "yaml",
    "uuid6",
    "asyncio",
    "sqlite3",
    "json",
    "subprocess",
    "tempfile",
    "ssl",
)
SKIP = ("kaiwa.warm", "kaiwa.__main__", "kaiwa.entry", "kaiwa.gateway.supervisor")
# rich Consoles made at import (kaiwa.cli's err_console, …) with their constructor's arguments.
CONSOLES: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
# Read at import, but each call sets them right again (child.py): not a reason to run cold.
FIXED_PER_CALL = frozenset({"HOME", "TZ", "TMPDIR", "TEMP", "TMP"})


class EnvReads:
    """Every os.environ key read (get, [], in) while recording, with the value it had; not while paused."""

    def __init__(self) -> None:
        self.seen: dict[str, str | None] = {}
        self.paused = 0

    def note(self, env: Any, key: Any) -> None:
        if self.paused or env is not os.environ or not isinstance(key, str) or key in self.seen:
            return
        store: Any = os.environ
        raw = store._data.get(store.encodekey(key))  # the raw store: no recursion into the patched methods
        self.seen[key] = None if raw is None else store.decodevalue(raw)

    @contextmanager
    def recording(self) -> Iterator[None]:
        cls: Any = type(os.environ)
        get, getitem, contains = cls.get, cls.__getitem__, cls.__contains__
        note = self.note

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
            yield
        finally:
            cls.get, cls.__getitem__, cls.__contains__ = get, getitem, contains


def kaiwa_modules() -> list[str]:
    """kaiwa's modules but SKIP, found on disk (pkgutil.walk_packages would import every package it enters)."""
    import kaiwa

    names: list[str] = []

    def walk(folder: str, prefix: str) -> None:
        for info in pkgutil.iter_modules([folder], prefix):
            if info.name.startswith(SKIP):
                continue
            names.append(info.name)
            if info.ispkg:
                walk(os.path.join(folder, info.name.rsplit(".", 1)[1]), info.name + ".")

    walk(kaiwa.__path__[0], "kaiwa.")
    return names


def preload(log: Any) -> dict[str, str | None]:
    """Import everything, build what a first call builds; the environment variables read meanwhile (but
    those a Console reads when made: each call makes its Consoles again, see renew_consoles)."""
    from rich.console import Console

    from .rehearse import rehearse, rehearse_platform

    reads = EnvReads()
    init = Console.__init__

    def recorded(console: Any, *args: Any, **kwargs: Any) -> None:
        CONSOLES.append((console, args, kwargs))
        reads.paused += 1
        try:
            init(console, *args, **kwargs)
        finally:
            reads.paused -= 1

    Console.__init__ = recorded  # type: ignore[method-assign,assignment]
    try:
        with reads.recording():
            for name in (*LIBRARIES, *kaiwa_modules()):
                try:
                    importlib.import_module(name)
                except Exception as exc:  # an optional part missing: the call imports it (or fails) as cold
                    log(f"preload: {name} not imported ({type(exc).__name__})")
            rehearse(log)
        rehearse_platform()
    finally:
        Console.__init__ = init  # type: ignore[method-assign]
    return {k: v for k, v in reads.seen.items() if k not in FIXED_PER_CALL}


def renew_consoles() -> None:
    """In a call's child: run each import-time Console's constructor again, with the same arguments, so it
    looks at this call's stdout, terminal and environment (colours, width, NO_COLOR, …)."""
    for console, args, kwargs in CONSOLES:
        console.__init__(*args, **kwargs)
