"""kaiwa's built-in tools: exact arithmetic, the clock (real tz data), and the one-line displays."""

from __future__ import annotations

import asyncio
import json
import operator
import random
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from kaiwa.tools import (
    CalcError,
    builtin_tools,
    calculate,
    current_time,
    describe_call,
    describe_result,
    describe_time,
    evaluate,
    local_zone,
    resolve_zone,
)


def invoke(name: str, arguments: dict[str, Any]) -> str:
    """Call a built-in tool the way the Runner does: through FunctionTool.on_invoke_tool with JSON arguments."""
    from agents import FunctionTool
    from agents.tool_context import ToolContext

    tool = next(t for t in builtin_tools() if isinstance(t, FunctionTool) and t.name == name)
    raw = json.dumps(arguments)
    ctx = ToolContext(context=None, tool_name=name, tool_call_id="call_1", tool_arguments=raw)

    async def call() -> object:
        return await tool.on_invoke_tool(ctx, raw)

    return str(asyncio.run(call()))


# --- the tools as the SDK sees them -----------------------------------------------------------------------------


def test_builtin_tools_are_function_tools_with_documented_parameters() -> None:
    from agents import FunctionTool

    all_tools = builtin_tools()
    tools = {t.name: t for t in all_tools if isinstance(t, FunctionTool)}
    assert len(all_tools) == 2 and set(tools) == {"current_time", "calculate"}
    clock, calc = tools["current_time"], tools["calculate"]
    assert "time" in (clock.description or "").lower() and "zone" in clock.params_json_schema["properties"]
    assert "Tokyo" in clock.params_json_schema["properties"]["zone"]["description"]
    assert calc.params_json_schema["required"] == ["expression"]
    assert "exact" in (calc.description or "").lower()


def test_calculate_through_the_sdk() -> None:
    assert invoke("calculate", {"expression": "0.1 + 0.2"}) == "0.3"
    assert invoke("calculate", {"expression": "1/0"}) == "error: division by zero"


def test_clock_through_the_sdk_answers_tokyo_with_the_real_time() -> None:
    out = invoke("current_time", {"zone": "Tokyo"})
    assert "Asia/Tokyo" in out and "JST" in out
    stamp = datetime.fromisoformat(out.rsplit("ISO 8601: ", 1)[1])
    assert stamp.utcoffset() == timedelta(hours=9)
    assert abs((stamp - datetime.now(UTC)).total_seconds()) < 5


def test_clock_defaults_to_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    assert local_zone()[1] == "America/Sao_Paulo"
    out = invoke("current_time", {"zone": None})
    assert "in America/Sao_Paulo" in out and "(UTC-03:00)" in out


# --- zones --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "zone"),
    [
        ("Tokyo", "Asia/Tokyo"),
        ("tokyo", "Asia/Tokyo"),
        ("Asia/Tokyo", "Asia/Tokyo"),
        ("New York", "America/New_York"),
        ("new_york", "America/New_York"),
        ("Paris, France", "Europe/Paris"),
        ("Mumbai", "Asia/Kolkata"),
        ("San Francisco", "America/Los_Angeles"),
        ("PST", "America/Los_Angeles"),
        ("EST", "America/New_York"),
        ("Japan", "Asia/Tokyo"),
        ("UTC", "UTC"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_zone_names_and_places(asked: str, zone: str) -> None:
    assert resolve_zone(asked)[1] == zone


def test_fixed_offsets() -> None:
    tz, name = resolve_zone("UTC+5:30")
    assert name == "UTC+05:30" and tz.utcoffset(None) == timedelta(hours=5, minutes=30)
    assert resolve_zone("-03:00")[0].utcoffset(None) == timedelta(hours=-3)
    with pytest.raises(ValueError):
        resolve_zone("UTC+15")


def test_daylight_saving_comes_from_the_tz_database() -> None:
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    winter = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert "Wednesday 01 July 2026, 08:00:00 EDT (UTC-04:00) in America/New_York" in describe_time("New York", summer)
    assert "07:00:00 EST (UTC-05:00)" in describe_time("New York", winter)
    assert "21:00:00 JST (UTC+09:00)" in describe_time("Tokyo", summer)
    assert "ISO 8601: 2026-07-01T13:00:00+01:00" in describe_time("Europe/London", summer)


@pytest.mark.parametrize("bad", ["Atlantis", "../../etc/passwd", "/etc/localtime", "Asia/../../etc", "x" * 100])
def test_unknown_or_unsafe_zones_are_refused(bad: str) -> None:
    out = current_time(bad)
    assert out.startswith("error: ")
    with pytest.raises(ValueError):
        resolve_zone(bad)


def test_misspelt_zone_gets_a_suggestion() -> None:
    assert "did you mean 'tokyo'" in current_time("Tokio")


# --- exact arithmetic ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0.1 + 0.2", "0.3"),
        ("0.1 * 3", "0.3"),
        ("1 - 0.9", "0.1"),
        ("10 / 4", "2.5"),
        ("7 // 2", "3"),
        ("-7 // 2", "-4"),
        ("-7 % 3", "2"),
        ("7.5 % 2", "1.5"),
        ("2 ** 100", "1267650600228229401496703205376"),
        ("2 ** -2", "0.25"),
        ("(-2) ** 3", "-8"),
        ("-2 ** 2", "-4"),
        ("1e-3 * 3", "0.003"),
        ("1_000_000 * 3", "3000000"),
        ("9 ** 0.5", "3"),
        ("(-8) ** (1/3)", "-2"),
        ("sqrt(16/9)", "4/3 ≈ 1.33333333333333333333333333333"),
        ("abs(-3.25)", "3.25"),
        ("1/3", "1/3 ≈ 0.333333333333333333333333333333"),
        ("1/3 + 1/6", "0.5"),
        ("12 × 3 ÷ 4", "9"),
        ("99999999999999999999 + 1", "100000000000000000000"),
        ("0.1 ** 3", "0.001"),
        ("1 / 8", "0.125"),
    ],
)
def test_exact_results(expression: str, expected: str) -> None:
    assert calculate(expression) == expected


def test_irrational_results_are_marked_approximate() -> None:
    out = calculate("sqrt(2)")
    assert out.startswith("≈ 1.4142135623730950488016887242")
    value, approximate = evaluate("2 ** 0.5")
    assert approximate and abs(value**2 - 2) < Fraction(1, 10**40)


def test_matches_fraction_arithmetic_on_random_expressions() -> None:
    rng = random.Random(20261122)
    ops = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv}
    for _ in range(300):
        a = Fraction(rng.randint(-(10**6), 10**6), 10 ** rng.randint(0, 4))
        b = Fraction(rng.randint(1, 10**6), 10 ** rng.randint(0, 4)) * rng.choice((1, -1))
        symbol = rng.choice(list(ops))
        text = f"({float_text(a)}) {symbol} ({float_text(b)})"
        value, approximate = evaluate(text)
        assert not approximate
        assert value == Fraction(ops[symbol](a, b)), text


def float_text(value: Fraction) -> str:
    """A decimal literal for a fraction whose denominator divides a power of ten (exact)."""
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


def test_huge_integers_are_summarised_not_refused() -> None:
    out = calculate("3 ** 100000")
    assert out.startswith("≈ 1.33497141423040146945891439") and "47713 digits" in out


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os').system('touch /tmp/kaiwa-calc-pwned')", "not allowed"),
        ("().__class__", "not allowed"),
        ("open('/etc/passwd')", "not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("lambda: 1", "not allowed"),
        ("[1, 2]", "not allowed"),
        ("'a' * 3", "not allowed"),
        ("2 ^ 10", "use **"),
        ("1,000", "commas"),
        ("1 if 1 else 2", "not allowed"),
        ("1 < 2", "only + - * /"),
        ("True + 1", "booleans"),
        ("1 + 2j", "complex"),
        ("1/0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("(-4) ** 0.5", "not a real number"),
        ("10 ** 10 ** 10", "too large"),
        ("9 ** 9 ** 9", "too large"),
        ("2 ** 1000000", "too large"),
        ("(2 ** 60000) * (2 ** 60000) * (2 ** 60000) * (2 ** 60000)", "too large"),
        ("1e999999", "too large"),
        ("2 ** (1/100001)", "denominator is too large"),
        ("1 +", "not a valid expression"),
        ("", "empty"),
        ("1" + "+1" * 1200, "too long"),
        ("1" + "+1" * 500, "too complex"),
        ("(" * 300 + "1" + ")" * 300, "not a valid expression"),
        ("-" * 1900 + "1", "too"),
    ],
)
def test_unsafe_or_oversized_input_is_refused(expression: str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(CalcError, match=re.escape(reason)):
        evaluate(expression)
    out = calculate(expression)
    assert out.startswith("error: ") and reason in out
    assert time.monotonic() - started < 2  # the limits act before the work, not after
    assert not Path("/tmp/kaiwa-calc-pwned").exists()


# --- one-line displays --------------------------------------------------------------------------------------------


def test_describe_call() -> None:
    assert describe_call("calculate", '{"expression": "2 ** 10"}') == "calculate(expression='2 ** 10')"
    assert describe_call("current_time", '{"zone": null}') == "current_time()"
    assert describe_call("lookup_word", '{"word": "kaiwa", "limit": 3}') == "lookup_word(word='kaiwa', limit=3)"
    assert describe_call("x", "not json\nat all") == "x(not json at all)"
    long = describe_call("reverse_text", json.dumps({"text": "word " * 100}))
    assert len(long) <= 100 and long.endswith("…)") and "\n" not in long


def test_describe_result() -> None:
    assert describe_result("0.3") == "0.3"
    assert describe_result({"type": "text", "text": "[words-fixture] kaiwa:\n conversation"}) == (
        "[words-fixture] kaiwa: conversation"
    )
    assert describe_result([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "a b"
    assert describe_result('{"type": "text", "text": "from json"}') == "from json"
    assert describe_result({"type": "image", "image_url": "data:image/png;base64,AAAA"}) == "[image]"
    cut = describe_result("line\n" * 100, limit=30)
    assert len(cut) == 30 and cut.endswith("…") and "\n" not in cut
