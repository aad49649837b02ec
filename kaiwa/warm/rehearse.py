"""What the first call of every process would build, built once in the warm process before it forks."""

from __future__ import annotations

import contextlib
from typing import Any

REHEARSED = ("openai.types.responses", "openai.types.shared")


def rehearse(log: Any) -> None:
    """What the first call of every process would build: openai's models' validators (deferred to first use,
    DEFER_PYDANTIC_BUILD: about a second for a streamed turn), the TypeAdapters of its unions, the click
    command Typer makes out of kaiwa's app, the HTTP client's TLS context, the SDK's (disabled) trace provider."""
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
    from kaiwa.core.agent import run_config, tls_context
    from kaiwa.errors import KaiwaError
    from kaiwa.tools import builtin_tools

    command()
    with contextlib.suppress(KaiwaError):  # a bad SSL_CERT_FILE here: each call says so itself
        tls_context()
    builtin_tools()  # their schemas, made once a process
    run_config()  # the SDK's trace provider (its exporter's HTTP client and TLS context; no thread until a trace)
    log(f"rehearse: {built} deferred models, {adapters} union adapters, the CLI's command, TLS, the trace provider")


def rehearse_platform() -> None:
    """What openai asks on a client's first request (cached by the platform module; `uname -p` runs as a
    subprocess otherwise). Not recorded as an import-time read: finding `uname` reads PATH, and which `uname` a
    PATH finds does not change the machine it names (recorded, every shell with another PATH ran cold)."""
    import platform

    platform.platform()
    platform.machine()


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
