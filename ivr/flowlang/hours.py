"""Business hours: parse 'mon-fri: 08:00-20:00' specs and tell whether a moment is open.

Pure functions of (spec, datetime): the clock is always passed in, so the engine, the
simulator (``--clock``) and the tests decide what "now" is.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from ivr.flowlang.model import Hours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Week = dict[int, list[tuple[time, time]]]


class HoursError(ValueError):
    """A day spec or time range that cannot be read; the message says what was expected."""


def parse_days(spec: str) -> list[int]:
    """'mon-fri' → [0..4]; 'sat' → [5]; 'mon,wed' → [0, 2]."""
    out: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAYS for e in ends):
            raise HoursError(f"'{spec}' is not a day or day range (use e.g. mon-fri, sat)")
        a, b = DAYS.index(ends[0]), DAYS.index(ends[-1])
        out.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return out


def parse_ranges(spec: str) -> list[tuple[time, time]]:
    """'08:00-12:00, 13:00-17:00' → time pairs; 'closed' → []."""
    if spec.strip().lower() == "closed":
        return []
    out = []
    for part in spec.split(","):
        m = _RANGE.match(part)
        if not m:
            raise HoursError(f"'{part.strip()}' is not a time range (use HH:MM-HH:MM)")
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise HoursError(f"'{part.strip()}' has an impossible time")
        end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
        if end <= time(h1, m1):
            raise HoursError(f"'{part.strip()}' ends before it starts")
        out.append((time(h1, m1), end))
    return out


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; HoursError when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HoursError(f"unknown time zone '{name}'") from exc


@lru_cache(maxsize=64)
def holiday_calendar(country: str) -> holidays_lib.HolidayBase:
    """The holidays of ``country`` (e.g. 'US'); HoursError when unknown."""
    try:
        return holidays_lib.country_holidays(country)
    except NotImplementedError as exc:
        raise HoursError(f"unknown holiday calendar '{country}'") from exc


@lru_cache(maxsize=256)
def week(spec: tuple[tuple[str, str], ...]) -> Week:
    """The open ranges for each weekday (0 = Monday)."""
    out: Week = {d: [] for d in range(7)}
    for days, ranges in spec:
        for d in parse_days(days):
            out[d] = parse_ranges(ranges)
    return out


def is_open(hours: Hours | None, now: datetime) -> bool:
    """True when ``now`` is within business hours (always True without hours)."""
    if hours is None:
        return True
    local = now.astimezone(zone(hours.timezone))
    if hours.holidays and local.date() in holiday_calendar(hours.holidays):
        return False
    t = local.time()
    return any(a <= t < b for a, b in week(hours.open)[local.weekday()])
