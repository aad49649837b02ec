"""The `current_time` tool: the time in any zone, city or country people name (stdlib only)."""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path

# Places people ask about that are not themselves IANA zone names (those, like "Tokyo", resolve by themselves).
_PLACE_ALIASES: dict[str, str] = json.loads((Path(__file__).parent / "places.json").read_text("utf-8"))

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
