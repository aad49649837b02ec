"""What the warm process imports before it forks, and which environment variables those imports read.

Everything a one-shot, the REPL and `sessions` use, except kaiwa.cli (its module-level consoles decide about
colours and the terminal when created: they must be created in each call, with its own stdout and environment).
A variable read at import (openai reads OPENAI_LOG, the SDK its logging switches, typer TYPER_USE_RICH, …) is
remembered with its value: a call whose environment differs in one of them runs cold.
"""

from __future__ import annotations

import contextlib
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
    "uuid6",
    "asyncio",
    "sqlite3",
    "json",
    "subprocess",
    "tempfile",
    "ssl",
)
REHEARSED = ("openai.types.responses", "openai.types.shared")
SKIP = ("kaiwa.warm", "kaiwa.__main__", "kaiwa.entry", "kaiwa.gateway.supervisor")
# rich Consoles made at import (kaiwa.cli's err_console, …) with their constructor's arguments.
CONSOLES: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
# Read at import, but each call sets them right again (child.py): not a reason to run cold.
FIXED_PER_CALL = frozenset({"HOME", "TZ", "TMPDIR", "TEMP", "TMP"})


@contextmanager
def recording() -> Iterator[dict[str, str | None]]:
    """Record every os.environ key read inside (get, [], in) with the value it had."""
    seen: dict[str, str | None] = {}
    cls: Any = type(os.environ)
    get, getitem, contains = cls.get, cls.__getitem__, cls.__contains__

    def note(env: Any, key: Any) -> None:  # env: os._Environ (its raw store, no recursion)
        if env is os.environ and isinstance(key, str) and key not in seen:
            store: Any = os.environ
            raw = store._data.get(store.encodekey(key))  # the raw store: no recursion into the patched methods
            seen[key] = None if raw is None else store.decodevalue(raw)

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
    """Import everything, build what a first call builds; the environment variables read meanwhile."""
    from rich.console import Console

    made = CONSOLES
    init = Console.__init__

    def recorded(console: Any, *args: Any, **kwargs: Any) -> None:
        made.append((console, args, kwargs))
        init(console, *args, **kwargs)

    Console.__init__ = recorded  # type: ignore[method-assign,assignment]
    try:
        with recording() as seen:
            for name in (*LIBRARIES, *kaiwa_modules()):
                try:
                    importlib.import_module(name)
                except Exception as exc:  # an optional part missing: the call imports it (or fails) as cold
                    log(f"preload: {name} not imported ({type(exc).__name__})")
            rehearse(log)
    finally:
        Console.__init__ = init  # type: ignore[method-assign]
    return {k: v for k, v in seen.items() if k not in FIXED_PER_CALL}


def renew_consoles() -> None:
    """In a call's child: run each import-time Console's constructor again, with the same arguments, so it
    looks at this call's stdout, terminal and environment (colours, width, NO_COLOR, …)."""
    for console, args, kwargs in CONSOLES:
        console.__init__(*args, **kwargs)


def rehearse(log: Any) -> None:
    """What the first call of every process would build: openai's models' validators (deferred to first use,
    DEFER_PYDANTIC_BUILD: about a second for a streamed turn), the TypeAdapters of its unions, and the click
    command Typer makes out of kaiwa's app."""
    import pydantic

    todo, seen = [pydantic.BaseModel], set()
    while todo:
        for cls in todo.pop().__subclasses__():
            if cls not in seen:
                seen.add(cls)
                todo.append(cls)
    built = 0
    for cls in seen:
        if cls.__module__.startswith(REHEARSED) and not cls.__pydantic_complete__:
            try:
                cls.model_rebuild()
                built += 1
            except Exception as exc:  # a model that cannot build yet is built on first use, as cold
                log(f"rehearse: {cls.__module__}.{cls.__qualname__} not built ({type(exc).__name__})")
    adapters = _openai_unions(log)
    from kaiwa.cli import command

    command()
    log(f"rehearse: {built} deferred models, {adapters} union adapters, the CLI's command")


def _openai_unions(log: Any) -> int:
    """openai's construct_type validates each union it meets in a response (a stream event, a field's
    `X | None`, a list's item) through a TypeAdapter it caches per type (openai._models, private: if it moves,
    each call builds them as a cold one does). Build the unions of every response model's fields here."""
    import sys
    import types
    import typing

    import pydantic

    try:
        from openai._models import validate_type
    except ImportError as exc:
        log(f"rehearse: openai._models.validate_type not found ({exc})")
        return 0
    unions: set[Any] = set()

    def walk(annotation: Any) -> None:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            walk(args[0])
            return
        if origin in (typing.Union, types.UnionType):
            unions.add(annotation)
        for arg in args:
            walk(arg)

    for name, module in list(sys.modules.items()):
        if not name.startswith("openai.types.responses") or module is None:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, pydantic.BaseModel):
                for field in value.model_fields.values():
                    walk(field.annotation)
            elif typing.get_origin(value) is not None:
                walk(value)  # the aliases streams are cast to: ResponseStreamEvent, …
    for union in unions:
        with contextlib.suppress(Exception):  # None fits few of them: the adapter is built and cached all the same
            validate_type(type_=union, value=None)
    return len(unions)
