"""What each setting accepts: one check per value, used by its flag and its environment variable alike.

`source` names where the value came from, `--temperature` or `KAIWA_TEMPERATURE`, and the one line says so.
Bottom layer, stdlib only; hints only ever suggest values the same check accepts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import UsageError
from .redact import mask_url

REASONING_EFFORTS = ("low", "medium", "high")
EXAMPLE_BASE_URL = "http://localhost:4000/v1"


def _is_setting(source: str) -> bool:
    return source.isupper()


def number(value: float) -> str:
    """A number as a person writes it: 2147483647, 0.2 — never 2.14748e+09 (which no check here would accept)."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def shown(source: str, raw: object, quoted: bool = False) -> str:
    """The value and where it came from: `--temperature 3` (a flag), `temperature 3` (a key in a role file),
    `KAIWA_TEMPERATURE='3'` (a setting, always quoted: its spaces matter)."""
    value = number(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else printable(str(raw))
    if _is_setting(source):
        return f"{source}={value!r}"
    return f"{source} {value!r}" if quoted else f"{source} {value}"


def _hint(source: str, wanted: str, example: str) -> str:
    if _is_setting(source):
        return f"set {source} to {wanted}, e.g. {source}={example}"
    return f"give {wanted}, e.g. {example}"


def printable(text: str) -> str:
    """Undecodable bytes (kept as surrogates by Python) shown as �, so a message about them can be printed."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        data = text.encode("utf-8", "replace")
    return data.decode("utf-8", "replace")


def text(raw: str, source: str, hint: str = "") -> str:
    """`raw` unchanged if it is valid UTF-8; else one line naming `source` and the first bad byte."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError as error:
        char = ord(raw[error.start])
        byte = f"byte 0x{char - 0xDC00:02x}" if 0xDC80 <= char <= 0xDCFF else f"U+{char:04X}"
        default = f"set {source} in UTF-8" if _is_setting(source) else "give it in UTF-8"
        raise UsageError(
            f"{source} is not valid UTF-8 ({byte} at character {error.start + 1}: {printable(raw)[:60]!r})",
            hint or default,
        ) from None
    return raw


@dataclass(frozen=True)
class Number:
    """A number from `low` (`low_open`: above it) to `high`; `integer` for whole numbers. `cap`: `high` is only a
    sanity bound (not a rule of the value), so messages say "too small" / "too large" rather than a range."""

    low: float
    high: float
    example: str
    low_open: bool = False
    integer: bool = False
    unit: str = ""
    cap: bool = False

    def describe(self) -> str:
        kind = f"{'a whole number' if self.integer else 'a number'}{self.unit}"
        low, high = number(self.low), number(self.high)
        if self.cap:
            return f"{kind} above {low}" if self.low_open else f"at least {low}"
        return f"{kind} {'above' if self.low_open else 'from'} {low} to {high}"

    def check(self, raw: str | float, source: str) -> float:
        hint = _hint(source, self.describe(), self.example)
        if isinstance(raw, str):
            text(raw, source)
            try:
                value = float(raw.strip())
            except ValueError:
                raise UsageError(f"{shown(source, raw)} is not a number", hint) from None
        else:
            value = float(raw)
        if not math.isfinite(value):
            raise UsageError(f"{shown(source, raw)} is not a finite number", hint)
        if self.integer and not value.is_integer():
            raise UsageError(f"{shown(source, raw)} is not a whole number", hint)
        too_small = value <= self.low if self.low_open else value < self.low
        if self.cap and too_small:
            raise UsageError(f"{shown(source, raw)} is too small", hint)
        if self.cap and value > self.high:
            raise UsageError(
                f"{shown(source, raw)} is too large", _hint(source, f"at most {number(self.high)}", self.example)
            )
        if too_small or value > self.high:
            raise UsageError(f"{shown(source, raw)} is out of range", hint)
        return value

    def check_int(self, raw: str | float, source: str) -> int:
        return int(self.check(raw, source))


TEMPERATURE = Number(0, 2, "0.2")
MAX_OUTPUT_TOKENS = Number(1, 2**31 - 1, "2000", integer=True, cap=True)
TIMEOUT = Number(0, 86_400, "120", low_open=True, unit=" of seconds")
LOCK_TIMEOUT = Number(0, 86_400, "30", unit=" of seconds")
MAX_RETRIES = Number(0, 20, "1", integer=True)
STREAM_RETRIES = Number(0, 20, "2", integer=True)
STREAM_IDLE_TIMEOUT = Number(0, 86_400, "90", low_open=True, unit=" of seconds")
IDLE_MINUTES = Number(0, 10_080, "30", low_open=True, unit=" of minutes")
PORT = Number(1, 65_535, "4100", integer=True)
COST = Number(0, 1_000_000, "5", unit=" of dollars", cap=True)  # a spending cap (KAIWA_MAX_COST_*)


def choice(raw: str, choices: tuple[str, ...], source: str) -> str:
    """`raw` lower-cased if it is one of `choices`."""
    picked = text(raw, source).strip().lower()
    if picked not in choices:
        options = ", ".join(choices)
        raise UsageError(f"{shown(source, raw, quoted=True)} is not one of {options}", f"e.g. {choices[0]}")
    return picked


def reasoning(raw: str, source: str) -> str:
    return choice(raw, REASONING_EFFORTS, source)


def api_key(raw: str, source: str = "LITELLM_API_KEY") -> str | None:
    """The proxy's key (None when unset). It travels in an HTTP header, so it is printable ASCII without spaces;
    the line about a bad one never shows the key."""
    key = raw.strip()
    bad = next((i for i, c in enumerate(key) if not (" " < c < "\x7f")), None)
    if bad is not None:
        raise UsageError(
            f"{source} holds a character no key can (character {bad + 1}: not printable ASCII)",
            f"set {source} to the proxy's key exactly as it was given",
        )
    return key or None


def base_url(raw: str, source: str = "LITELLM_BASE_URL") -> str:
    """The proxy's URL: http(s), a host, a numeric port if any. Credentials in it are never shown."""
    url = text(raw, source).strip()
    problem: str | None = None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a non-numeric or out-of-range port
        if parts.scheme.lower() not in ("http", "https"):
            problem = "must start with http:// or https://"
        elif not parts.hostname:
            problem = "names no host"
    except ValueError as error:
        problem = f"is not a valid URL ({error})"
    if problem is not None:
        hint = f"set {source} to the proxy's URL, e.g. {EXAMPLE_BASE_URL}"
        raise UsageError(f"{source}={mask_url(printable(url))!r} {problem}", hint)
    return url.rstrip("/")
