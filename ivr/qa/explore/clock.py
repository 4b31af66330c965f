"""Clock classes: one concrete moment for each way a flow's hours can answer.

The engine only asks "is it open now?" (:func:`ivr.flowlang.hours.is_open`), so three
moments cover every answer a flow's ``hours:`` can give: open (the middle of an opening
range on an ordinary day), closed (outside every range, not a holiday) and holiday (a
holiday that falls on a day with opening hours, at a time that would be open). A flow
without hours is always open. Moments are found by scanning from a fixed Monday, so a
counterexample's ``clock:`` is the same every run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from ivr.flowlang.hours import holiday_calendar, is_open, week, zone
from ivr.flowlang.model import Flow, Hours

REFERENCE = date(2026, 11, 16)
"""A Monday: scanning starts here."""
SCAN_DAYS = 14
HOLIDAY_DAYS = 2 * 366


def clock_classes(flow: Flow) -> dict[str, datetime]:
    """Clock class name ("open", "closed", "holiday") → a moment of that class, in order."""
    hours = flow.hours
    if hours is None:
        return {"open": datetime.combine(REFERENCE, time(12, 0), UTC)}
    out: dict[str, datetime] = {}
    for name, moment in (("open", _open(hours)), ("closed", _closed(hours)),
                         ("holiday", _holiday(hours))):
        if moment is not None:
            out[name] = moment
    return out


def _midpoints(hours: Hours, day: date) -> list[datetime]:
    tz = zone(hours.timezone)
    out = []
    for start, end in week(hours.open)[day.weekday()]:
        a = datetime.combine(day, start, tz)
        b = datetime.combine(day, end, tz)
        out.append((a + (b - a) / 2).replace(second=0, microsecond=0))
    return out


def _holiday_today(hours: Hours, day: date) -> bool:
    return bool(hours.holidays) and day in holiday_calendar(hours.holidays)


def _open(hours: Hours) -> datetime | None:
    for k in range(SCAN_DAYS):
        day = REFERENCE + timedelta(days=k)
        if _holiday_today(hours, day):
            continue
        for moment in _midpoints(hours, day):
            if is_open(hours, moment):
                return moment
    return None


def _closed(hours: Hours) -> datetime | None:
    tz = zone(hours.timezone)
    for k in range(SCAN_DAYS * 48):
        moment = datetime.combine(REFERENCE, time(0, 0), tz) + timedelta(minutes=30 * k)
        local = moment.astimezone(tz)
        if not _holiday_today(hours, local.date()) and not is_open(hours, local):
            return local
    return None


def _holiday(hours: Hours) -> datetime | None:
    if not hours.holidays:
        return None
    start = date(REFERENCE.year, 1, 1)
    for k in range(HOLIDAY_DAYS):
        day = start + timedelta(days=k)
        if not _holiday_today(hours, day):
            continue
        for moment in _midpoints(hours, day):
            if not is_open(hours, moment):
                return moment
    return None
