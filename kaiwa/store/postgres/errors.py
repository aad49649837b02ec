"""SESSION_DB_URL without its secrets, and Postgres failures as one line each (what went wrong — what to do).

Stdlib only: the masking runs before anything imports SQLAlchemy or asyncpg, and the translation recognises
asyncpg's exceptions by class name (through SQLAlchemy's wrapping and asyncpg's own chaining), so importing
this module costs nothing.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from ...errors import KaiwaError, UsageError
from ...redact import mask_url

SCHEMES = ("postgresql", "postgres")
URL_HINT = "set SESSION_DB_URL to postgresql://USER:PASSWORD@HOST:5432/DATABASE"


@dataclass(frozen=True)
class Target:
    """What the messages name: never the password."""

    dsn: str  # the URL asyncpg gets (scheme normalised, password kept): never printed
    masked: str  # the same URL with every secret replaced by ***
    user: str
    host: str
    database: str

    @property
    def where(self) -> str:
        return f"{self.host}/{self.database}"


def parse_url(url: str) -> Target:
    """Check SESSION_DB_URL's shape (not the server): a usage error names what is wrong, never the password."""
    raw = url.strip()
    try:
        parts = urlsplit(raw)
        hostport = parts.netloc.rsplit("@", 1)[-1]
        _ = parts.port  # raises on a non-numeric port
    except ValueError:
        raise UsageError(f"SESSION_DB_URL is not a valid URL: {mask_url(raw)}", URL_HINT) from None
    scheme = parts.scheme.lower().split("+", 1)[0]  # postgresql+asyncpg:// (SQLAlchemy's spelling) is fine too
    if scheme not in SCHEMES:
        raise UsageError(f"SESSION_DB_URL must start with postgresql:// (got {parts.scheme or 'no'} scheme)", URL_HINT)
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))
    query = dict(parse_qsl(parts.query))
    user = unquote(parts.username or "") or query.get("user", "")
    database = unquote(parts.path.lstrip("/")) or query.get("dbname", "") or user or "(default)"
    host = hostport or query.get("host", "") or "localhost"
    return Target(dsn=dsn, masked=mask_url(dsn), user=user or "(default)", host=host, database=database)


# -- failures --------------------------------------------------------------------------------------------
def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop(0)
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo.extend([getattr(cur, "orig", None), cur.__cause__, cur.__context__])
        if isinstance(cur, BaseExceptionGroup):
            todo.extend(cur.exceptions)


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def translate(exc: BaseException, target: Target) -> KaiwaError | None:
    """The one line for a failure talking to Postgres, or None when `exc` is not one (a bug: let it surface).
    Nothing from the URL but user, host and database is named."""
    where = target.where
    for cur in _chain(exc):
        names = _names(cur)
        text = str(cur)
        low = text.lower()
        if isinstance(cur, KaiwaError):
            return cur
        if "InvalidCatalogNameError" in names:
            return KaiwaError(
                f"the Postgres database {target.database!r} does not exist on {target.host}",
                f"create it (createdb {target.database}, or CREATE DATABASE) or fix the name in SESSION_DB_URL",
            )
        if "no encryption" in low and ("pg_hba" in low or "InvalidAuthorizationSpecificationError" in names):
            return KaiwaError(
                f"the Postgres server at {target.host} requires TLS",
                "add ?sslmode=require to SESSION_DB_URL (or remove sslmode=disable)",
            )
        if {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"} & names:
            return KaiwaError(
                f"Postgres refused the login of user {target.user!r} at {where} (authentication failed)",
                "check the user name and password in SESSION_DB_URL",
            )
        if isinstance(cur, ssl.SSLCertVerificationError) or "certificate verify failed" in low:
            return KaiwaError(
                f"the TLS certificate of the Postgres server at {target.host} is not trusted",
                "point sslrootcert= in SESSION_DB_URL at the server's CA file, or use sslmode=require",
            )
        if "ClientConfigurationError" in names:
            tls = "cert" in low or "ssl" in low
            return UsageError(
                f"SESSION_DB_URL cannot be used: {_first_line(text)}",
                "set sslrootcert=FILE in SESSION_DB_URL to the server's CA certificate, or use sslmode=require"
                if tls
                else URL_HINT,
            )
        if "rejected ssl upgrade" in low or ("ssl" in low and "not support" in low):
            return KaiwaError(
                f"the Postgres server at {target.host} does not offer TLS, but SESSION_DB_URL asks for it",
                "remove sslmode=require/verify-* from SESSION_DB_URL or enable ssl on the server",
            )
        if "InsufficientPrivilegeError" in names and "permission denied for database" in low:
            return KaiwaError(
                f"user {target.user!r} may not connect to the Postgres database {target.database!r} on {target.host}",
                "check the database name in SESSION_DB_URL, or ask its owner to GRANT CONNECT",
            )
        if "InsufficientPrivilegeError" in names:
            return KaiwaError(
                f"user {target.user!r} may not create or use kaiwa's tables in {where}",
                "ask the database owner to GRANT CREATE, USAGE ON SCHEMA public (see docs/team.md)",
            )
        if "TooManyConnectionsError" in names or "CannotConnectNowError" in names:
            return KaiwaError(
                f"the Postgres server at {target.host} is not accepting connections ({_first_line(text)})",
                "try again in a moment",
            )
        closed = "InterfaceError" in names and ("closed" in low or "connection" in low)
        if closed or {"ConnectionDoesNotExistError", "ConnectionFailureError", "AdminShutdownError"} & names:
            return KaiwaError(
                f"lost the connection to the Postgres server at {target.host}",
                "check that the server is running, then try again",
            )
        if isinstance(cur, TimeoutError) or "TimeoutError" in names:
            return KaiwaError(
                f"the Postgres server at {target.host} did not answer in time",
                "check SESSION_DB_URL's host and port, and your network",
            )
        if isinstance(cur, OSError):
            reason = "connection refused" if isinstance(cur, ConnectionRefusedError) else _os_reason(cur)
            return KaiwaError(
                f"cannot reach the Postgres server at {target.host} ({reason})",
                "check that it is running and SESSION_DB_URL's host and port",
            )
        if "InvalidDSNError" in names or ("ValueError" in names and "dsn" in low):
            return UsageError(f"SESSION_DB_URL is not a valid Postgres URL: {target.masked}", URL_HINT)
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason given"


def _os_reason(exc: OSError) -> str:
    if exc.strerror:
        return exc.strerror.lower()
    text = _first_line(str(exc))
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return "unknown host name"
    return re.sub(r"\[Errno \d+\] ", "", text)
