"""Built-in function tools (safe by default: no file, network or process access) and one-line tool displays.

Only the standard library is imported at module level: `agents` is imported inside `builtin_tools()`, so
`kaiwa --help` does not pay for it.
"""

from __future__ import annotations

import ast
import difflib
import functools
import json
import os
import re
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents import Tool

# ---------------------------------------------------------------------------------------------------------------
# Time zones

# Places people ask about that are not themselves IANA zone names (those, like "Tokyo", resolve by themselves).
_PLACE_ALIASES: dict[str, str] = {
    # cities
    "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "silicon valley": "America/Los_Angeles",
    "san diego": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles",
    "washington": "America/New_York",
    "washington dc": "America/New_York",
    "boston": "America/New_York",
    "miami": "America/New_York",
    "atlanta": "America/New_York",
    "philadelphia": "America/New_York",
    "houston": "America/Chicago",
    "dallas": "America/Chicago",
    "austin": "America/Chicago",
    "montreal": "America/Toronto",
    "rio de janeiro": "America/Sao_Paulo",
    "beijing": "Asia/Shanghai",
    "shenzhen": "Asia/Shanghai",
    "guangzhou": "Asia/Shanghai",
    "mumbai": "Asia/Kolkata",
    "bombay": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata",
    "chennai": "Asia/Kolkata",
    "osaka": "Asia/Tokyo",
    "kyoto": "Asia/Tokyo",
    "hanoi": "Asia/Bangkok",
    "tel aviv": "Asia/Jerusalem",
    "abu dhabi": "Asia/Dubai",
    "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "hamburg": "Europe/Berlin",
    "geneva": "Europe/Zurich",
    "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome",
    "edinburgh": "Europe/London",
    "manchester": "Europe/London",
    "kiev": "Europe/Kyiv",
    "st petersburg": "Europe/Moscow",
    "saint petersburg": "Europe/Moscow",
    "wellington": "Pacific/Auckland",
    "canberra": "Australia/Sydney",
    # countries with one zone
    "japan": "Asia/Tokyo",
    "china": "Asia/Shanghai",
    "india": "Asia/Kolkata",
    "korea": "Asia/Seoul",
    "south korea": "Asia/Seoul",
    "taiwan": "Asia/Taipei",
    "vietnam": "Asia/Ho_Chi_Minh",
    "thailand": "Asia/Bangkok",
    "philippines": "Asia/Manila",
    "israel": "Asia/Jerusalem",
    "uae": "Asia/Dubai",
    "germany": "Europe/Berlin",
    "france": "Europe/Paris",
    "italy": "Europe/Rome",
    "spain": "Europe/Madrid",
    "netherlands": "Europe/Amsterdam",
    "switzerland": "Europe/Zurich",
    "austria": "Europe/Vienna",
    "sweden": "Europe/Stockholm",
    "norway": "Europe/Oslo",
    "poland": "Europe/Warsaw",
    "ukraine": "Europe/Kyiv",
    "uk": "Europe/London",
    "united kingdom": "Europe/London",
    "england": "Europe/London",
    "britain": "Europe/London",
    "ireland": "Europe/Dublin",
    "new zealand": "Pacific/Auckland",
    "argentina": "America/Argentina/Buenos_Aires",
    # abbreviations
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "zulu": "UTC",
    "et": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "eastern": "America/New_York",
    "ct": "America/Chicago",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "central": "America/Chicago",
    "mt": "America/Denver",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "mountain": "America/Denver",
    "pt": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pacific": "America/Los_Angeles",
    "cet": "Europe/Paris",
    "cest": "Europe/Paris",
    "bst": "Europe/London",
    "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul",
    "ist": "Asia/Kolkata",
    "aest": "Australia/Sydney",
    "aedt": "Australia/Sydney",
}

_MAIN_AREAS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/")
_ZONE_KEY = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def _place_key(text: str) -> str:
    return re.sub(r"[\s_\-.,']+", " ", text).strip().lower()


@functools.cache
def _zone_index() -> dict[str, str]:
    """Lower-cased zone names and their last component ("new york") → the canonical IANA name."""
    zones = sorted(zoneinfo.available_timezones())
    index: dict[str, str] = {}
    # Canonical continent zones first, so "Tokyo" means "Asia/Tokyo" and not a legacy alias.
    for zone in sorted(zones, key=lambda z: (not z.startswith(_MAIN_AREAS), z)):
        index.setdefault(zone.lower(), zone)
        index.setdefault(_place_key(zone.rsplit("/", 1)[-1]), zone)
    return index


def local_zone() -> tuple[tzinfo, str]:
    """The user's local time zone and its name (IANA when it can be found, else the abbreviation)."""
    candidates: list[str] = []
    tz_env = os.environ.get("TZ", "").strip().lstrip(":")
    if tz_env:
        candidates.append(tz_env)
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for key in candidates:
        if _ZONE_KEY.match(key):
            try:
                return zoneinfo.ZoneInfo(key), key
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    fallback = datetime.now().astimezone().tzinfo or UTC
    return fallback, datetime.now(fallback).tzname() or "local"


def resolve_zone(place: str | None) -> tuple[tzinfo, str]:
    """An IANA zone, a city or country, an abbreviation or an offset like "UTC+9" → (tzinfo, name).

    Raises ValueError with a suggestion when nothing matches.
    """
    text = (place or "").strip()
    if not text or text.lower() in {"local", "here", "my time", "local time"}:
        return local_zone()
    if len(text) > 64:
        raise ValueError("time zone name is too long")
    if (match := _OFFSET.match(text)) and (text[0] in "+-" or text[:3].upper() in {"UTC", "GMT"}):
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes >= 60:
            raise ValueError(f"{text!r} is not a valid UTC offset")
        delta = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
        name = f"UTC{sign}{hours:02d}:{minutes:02d}"
        return timezone(delta, name), name
    key = _place_key(text)
    if key in _PLACE_ALIASES:  # before the zone files: "EST" means New York time to people, not fixed UTC-5
        name = _PLACE_ALIASES[key]
        return zoneinfo.ZoneInfo(name), name
    if _ZONE_KEY.match(text):
        try:
            return zoneinfo.ZoneInfo(text), text
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    index = _zone_index()
    # "Paris, France" → "paris"; "new york" → America/New_York through the index of last components.
    for candidate in (text.lower(), key, key.split(" ", 1)[0]):
        if candidate in _PLACE_ALIASES:
            candidate = _PLACE_ALIASES[candidate].lower()
        if candidate in index:
            name = index[candidate]
            return zoneinfo.ZoneInfo(name), name
    close = difflib.get_close_matches(key, list(index) + list(_PLACE_ALIASES), n=3, cutoff=0.75)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown time zone or place {text!r}{hint} (use an IANA name such as 'Asia/Tokyo')")


def _utc_offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def describe_time(zone: str | None = None, now: datetime | None = None) -> str:
    """The text the clock tool returns (`now` is for tests; it must be timezone-aware)."""
    tz, name = resolve_zone(zone)
    moment = (now or datetime.now(UTC)).astimezone(tz).replace(microsecond=0)
    asked = f" (asked: {zone.strip()})" if zone and zone.strip() and zone.strip() != name else ""
    return (
        f"{moment:%A %d %B %Y, %H:%M:%S} {moment.tzname()} ({_utc_offset(moment)}) in {name}{asked}; "
        f"ISO 8601: {moment.isoformat()}"
    )


def current_time(zone: str | None = None) -> str:
    """Get the current date and time (with weekday and UTC offset) in the user's local time zone or elsewhere.

    Use this whenever the answer depends on today's date or the current time anywhere.

    Args:
        zone: Where: an IANA time zone ("Asia/Tokyo", "America/New_York", "UTC"), a city or country
            ("Tokyo", "New York", "India"), an abbreviation ("PST", "CET") or an offset ("UTC+9").
            Leave empty or null for the user's own local time zone.
    """
    try:
        return describe_time(zone)
    except ValueError as error:
        return f"error: {error}"


# ---------------------------------------------------------------------------------------------------------------
# Exact arithmetic

MAX_EXPRESSION_CHARS = 2000
MAX_NODES = 400
MAX_BITS = 200_000  # bound on any numerator or denominator (about 60,000 decimal digits)
MAX_ROOT_DEGREE = 1000
MAX_DECIMAL_EXPONENT = 10_000  # in literals such as 1e500
EXACT_DIGITS_SHOWN = 1000
APPROX_DIGITS = 30


class CalcError(ValueError):
    """An expression the calculator refuses or cannot evaluate; the message is meant for the model."""


def _iroot(n: int, k: int) -> int:
    """floor(n ** (1/k)) for n >= 0, exactly (Newton's method on integers)."""
    if n < 2:
        return n
    x = 1 << -(-n.bit_length() // k)  # 2**ceil(bits/k) >= the root
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _bits(value: Fraction) -> int:
    return max(abs(value.numerator).bit_length(), value.denominator.bit_length())


class _Evaluator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.approximate = False

    def check(self, value: Fraction) -> Fraction:
        if _bits(value) > MAX_BITS:
            raise CalcError("the result is too large (more than about 60,000 digits)")
        return value

    def eval(self, node: ast.AST) -> Fraction:
        match node:
            case ast.Expression(body=body):
                return self.eval(body)
            case ast.Constant(value=bool()):
                raise CalcError("booleans are not numbers here")
            case ast.Constant(value=int() | float()):
                return self.literal(node)
            case ast.Constant(value=complex()):
                raise CalcError("complex numbers are not supported")
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.eval(operand)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self.eval(operand)
            case ast.BinOp(left=left, op=op, right=right):
                return self.binary(op, self.eval(left), self.eval(right))
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in ("abs", "sqrt"):
                if len(args) != 1:
                    raise CalcError(f"{name}() takes exactly one argument")
                value = self.eval(args[0])
                return abs(value) if name == "abs" else self.power(value, Fraction(1, 2))
            case ast.Name(id=name):
                raise CalcError(f"unknown name {name!r}: only numbers, + - * / // % ** ( ), abs() and sqrt()")
            case ast.BinOp() | ast.UnaryOp() | ast.Compare() | ast.BoolOp():
                raise CalcError("only + - * / // % ** are allowed (use ** for powers, not ^)")
            case ast.Tuple():
                raise CalcError("commas are not allowed (write 1000000, not 1,000,000)")
        raise CalcError(f"{type(node).__name__} is not allowed: only numbers, + - * / // % ** ( ), abs(), sqrt()")

    def literal(self, node: ast.Constant) -> Fraction:
        # Use the literal's source text: 0.1 must mean one tenth, not the float nearest to it.
        text = (ast.get_source_segment(self.source, node) or repr(node.value)).replace("_", "")
        try:
            decimal = Decimal(text)
        except InvalidOperation:
            decimal = Decimal(repr(node.value))
        if not decimal.is_finite():
            raise CalcError("infinite numbers are not supported")
        if abs(decimal.adjusted()) > MAX_DECIMAL_EXPONENT:
            raise CalcError(f"number {text[:20]}… is too large or too small")
        return self.check(Fraction(decimal))

    def binary(self, op: ast.operator, a: Fraction, b: Fraction) -> Fraction:
        try:
            match op:
                case ast.Add():
                    return self.check(a + b)
                case ast.Sub():
                    return self.check(a - b)
                case ast.Mult():
                    if _bits(a) + _bits(b) > MAX_BITS + 64:
                        raise CalcError("the result is too large (more than about 60,000 digits)")
                    return self.check(a * b)
                case ast.Div():
                    return self.check(a / b)
                case ast.FloorDiv():
                    return self.check(Fraction(a // b))
                case ast.Mod():
                    return self.check(a % b)
                case ast.Pow():
                    return self.power(a, b)
                case ast.BitXor():
                    raise CalcError("^ is not a power here: use ** (2 ** 10)")
        except ZeroDivisionError:
            raise CalcError("division by zero") from None
        raise CalcError(f"operator {type(op).__name__} is not allowed: only + - * / // % **")

    def int_power(self, base: Fraction, exponent: int) -> Fraction:
        if base == 0 and exponent < 0:
            raise CalcError("division by zero (0 to a negative power)")
        if abs(base) != 1 and base != 0 and _bits(base) * abs(exponent) > MAX_BITS:
            raise CalcError("the result is too large (more than about 60,000 digits)")
        return self.check(base**exponent)

    def power(self, base: Fraction, exponent: Fraction) -> Fraction:
        if exponent.denominator == 1:
            return self.int_power(base, exponent.numerator)
        degree = exponent.denominator
        if degree > MAX_ROOT_DEGREE:
            raise CalcError("the exponent's denominator is too large")
        negative = base < 0
        if negative and degree % 2 == 0:
            raise CalcError("an even root of a negative number is not a real number")
        magnitude = abs(base)
        root_num, root_den = _iroot(magnitude.numerator, degree), _iroot(magnitude.denominator, degree)
        if root_num**degree == magnitude.numerator and root_den**degree == magnitude.denominator:
            root = Fraction(root_num, root_den)
        else:
            # Irrational: fall back to a 50-digit approximation and say so in the answer.
            self.approximate = True
            with localcontext() as ctx:
                ctx.prec = 50
                approx = (Decimal(magnitude.numerator) / Decimal(magnitude.denominator)) ** (
                    Decimal(1) / Decimal(degree)
                )
            root = Fraction(approx)
        return self.int_power(-root if negative else root, exponent.numerator)


def evaluate(expression: str) -> tuple[Fraction, bool]:
    """Evaluate an arithmetic expression exactly; returns (value, approximate). Never uses eval().

    Raises CalcError for anything but numbers, + - * / // % ** ( ), abs() and sqrt(), and past the size limits.
    """
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("−", "-")
    if not text:
        raise CalcError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalcError(f"expression too long (more than {MAX_EXPRESSION_CHARS} characters)")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as error:
        raise CalcError(f"not a valid expression: {getattr(error, 'msg', error)}") from None
    except (RecursionError, MemoryError):
        raise CalcError("expression too deeply nested") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError(f"expression too complex (more than {MAX_NODES} parts)")
    evaluator = _Evaluator(text)
    value = evaluator.eval(tree)
    return value, evaluator.approximate


def _approx(value: Fraction, digits: int = APPROX_DIGITS) -> str:
    with localcontext() as ctx:
        ctx.prec = digits
        return str(Decimal(value.numerator) / Decimal(value.denominator))


def format_number(value: Fraction, approximate: bool = False) -> str:
    """Exact when possible: an integer, a terminating decimal, or "p/q ≈ decimal"; "≈ …" when approximate."""
    if approximate:
        return f"≈ {_approx(value)}"
    num, den = value.numerator, value.denominator
    if den == 1:
        if num.bit_length() <= EXACT_DIGITS_SHOWN * 3.32:
            return str(num)
        digits = len(str(Decimal(abs(num))))  # Decimal has no int→str digit limit
        return f"≈ {_approx(value)} (an integer of {digits} digits)"
    twos, fives, rest = 0, 0, den
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    scale = max(twos, fives)
    if rest == 1 and scale <= EXACT_DIGITS_SHOWN and num.bit_length() <= EXACT_DIGITS_SHOWN * 3.32:
        scaled = abs(num) * 10**scale // den  # exact: den divides 10**scale
        whole, frac = divmod(scaled, 10**scale)
        return f"{'-' if num < 0 else ''}{whole}.{frac:0{scale}d}"
    if max(num.bit_length(), den.bit_length()) <= 200:
        return f"{num}/{den} ≈ {_approx(value)}"
    return f"≈ {_approx(value)}"


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, with no rounding errors (0.1 + 0.2 is exactly 0.3).

    Use it for any arithmetic beyond the trivial. Supports + - * / // (floor division) % (remainder)
    ** (power), parentheses, decimal and integer numbers (1e6 and 1_000_000 are fine), abs(x) and sqrt(x).
    Fractions stay exact: 1/3 returns "1/3 ≈ 0.333…". Irrational results (sqrt(2)) are marked "≈".
    No variables, functions other than abs/sqrt, or units.

    Args:
        expression: The expression, e.g. "(17.5 - 3) * 12 / 7" or "2 ** 100".
    """
    try:
        return format_number(*evaluate(expression))
    except CalcError as error:
        return f"error: {error}"


# ---------------------------------------------------------------------------------------------------------------
# The tools and their one-line displays


def builtin_tools() -> list[Tool]:
    """kaiwa's built-in tools: the clock and the calculator. Neither touches files, the network or processes."""
    from agents import function_tool

    return [
        function_tool(current_time, name_override="current_time"),
        function_tool(calculate, name_override="calculate"),
    ]


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def describe_call(name: str, arguments: str, limit: int = 100) -> str:
    """A tool call as one short line, e.g. `calculate(expression='2 ** 10')`."""
    try:
        parsed: Any = json.loads(arguments) if arguments.strip() else {}
    except (json.JSONDecodeError, AttributeError):
        return _one_line(f"{name}({arguments})", limit)
    if isinstance(parsed, dict):
        shown = ", ".join(
            f"{key}={_one_line(repr(value), 40) if isinstance(value, str) else _one_line(json.dumps(value), 40)}"
            for key, value in parsed.items()
            if value is not None
        )
    else:
        shown = _one_line(json.dumps(parsed), 60)
    return _one_line(f"{name}({shown})", limit)


def _output_text(output: object) -> str:
    """The text inside a tool output: a string, an MCP content item ({"type": "text", ...}), a list of them."""
    if isinstance(output, str):
        stripped = output.strip()
        if stripped[:1] in "{[":
            try:
                return _output_text(json.loads(stripped))
            except json.JSONDecodeError:
                pass
        return output
    if hasattr(output, "model_dump"):
        output = output.model_dump()
    if isinstance(output, dict):
        if output.get("type") == "text" and isinstance(output.get("text"), str):
            return output["text"]
        if output.get("type") == "image":
            return "[image]"
        return json.dumps(output, ensure_ascii=False, default=str)
    if isinstance(output, list | tuple):
        return " ".join(_output_text(item) for item in output)
    return str(output)


def describe_result(output: object, limit: int = 80) -> str:
    """A tool result as one short line (whitespace collapsed, cut at `limit` characters with "…")."""
    return _one_line(_output_text(output), limit)
