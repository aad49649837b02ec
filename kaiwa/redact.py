"""Secrets out of everything kaiwa prints, logs or stores: URL credentials, known secret values, key-shaped words.

The one masking used on every path (errors, notices, `gateway status`, `--debug` tracebacks, MCP and Postgres
messages). Bottom layer, stdlib only: it runs before anything heavy is imported.
"""

from __future__ import annotations

import re
import traceback
from urllib.parse import parse_qsl, urlencode

MASK = "***"
# Query parameters whose values are credentials (libpq's, and the usual API-key spellings).
SECRET_PARAMS = {
    "password", "sslpassword", "passfile", "key", "api_key", "apikey", "api-key", "token", "access_token",
    "auth", "secret", "client_secret", "sig", "signature",
}  # fmt: skip
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
SECRETISH = re.compile(r"\b(sk-[A-Za-z0-9_\-]{4,}|AKIA[0-9A-Z]{12,}|Bearer\s+[A-Za-z0-9._\-~+/=]+)")


def _mask_userinfo(url: str) -> str:
    head, sep, tail = url.partition("://")
    if not sep:
        return url
    authority_end = min((i for i in (tail.find("/"), tail.find("?"), tail.find("#")) if i >= 0), default=len(tail))
    authority, path = tail[:authority_end], tail[authority_end:]
    if "@" not in authority:
        return url
    userinfo, hostport = authority.rsplit("@", 1)  # a password may hold an unescaped @: the host follows the last
    user, has_password, _ = userinfo.partition(":")
    if has_password:
        userinfo = f"{user}:{MASK}"
    elif head.lower() in ("http", "https", "ws", "wss"):
        userinfo = MASK  # a lone HTTP user is how tokens travel (https://TOKEN@host)
    return f"{head}://{userinfo}@{hostport}{path}"


def _mask_query(url: str) -> str:
    base, sep, rest = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = rest.partition("#")
    try:
        pairs = parse_qsl(query, keep_blank_values=True)
    except ValueError:
        return f"{base}?…"
    if not any(k.lower() in SECRET_PARAMS for k, _ in pairs):
        return url
    masked = urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="*/:")
    return f"{base}?{masked}{hash_sep}{fragment}"


def mask_url(url: str) -> str:
    """The URL with its password (a lone HTTP user too) and secret query values replaced by ***.

    Anything else is left exactly as written, so a URL without credentials prints unchanged, even a malformed one.
    """
    return _mask_query(_mask_userinfo(url))


def redact(text: str, *secrets: str | None) -> str:
    """`text` with the given secret values, every URL's credentials and key-shaped words (sk-…, AKIA…,
    Bearer …) masked: safe to print or log."""
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL.sub(lambda match: mask_url(match.group()), text)
    return SECRETISH.sub(MASK, text)


def redacted_traceback(exc: BaseException, *secrets: str | None) -> str:
    """The traceback `--debug` prints, masked like every other line (exception messages quote URLs and keys)."""
    return redact("".join(traceback.format_exception(exc)), *secrets)
