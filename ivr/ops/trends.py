"""Metrics over time for one flow: per hour (last 24 hours) or per day, in the flow's time
zone: calls by outcome, containment, the "other" rate, zero-outs and the time to a person;
the funnel (entered → reached a menu → how the call ended) and drop-offs per state.

Calls per outcome per bucket are counted by the database (per UTC hour, or per minute in
a zone whose offset is not whole hours) and each UTC bucket is moved into the flow's zone
here, so a call at 03:30 UTC counts on the previous day in New York. Zero-outs and the
time to a person come from the transcript lines (:mod:`ivr.ops.state_numbers`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from ivr.flowlang.model import Flow
from ivr.jobs.archive import Archive
from ivr.jobs.archive_stats import (
    HOUR,
    MINUTE,
    Period,
    archived_flows,
    first_call,
    outcome_buckets,
)
from ivr.ops.metrics import FlowMetrics
from ivr.ops.state_numbers import StateNumbers, state_numbers
from ivr.ops.times import flow_zone

PERIODS = {"24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days", "all": "all time"}
SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
ENDINGS = ("completed", "human", "other", "voicemail", "hangup")
"""Outcomes in the order the charts stack them; any other outcome counts as ``rest``."""


@dataclass
class Bucket:
    """One hour or one day, in the flow's time zone."""

    start: datetime
    label: str
    outcomes: Counter[str] = field(default_factory=Counter)
    zero_outs: int = 0
    to_person: list[float] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The bucket in words (``Fri 20 Nov``, ``Fri 20 Nov 14:00``)."""
        return self.label.split("|", 1)[0]

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())

    def rate(self, n: int) -> float | None:
        """``n`` as a percentage of the bucket's calls (None when it has none)."""
        return 100.0 * n / self.calls if self.calls else None

    @property
    def median_to_person(self) -> float | None:
        return statistics.median(self.to_person) if self.to_person else None


@dataclass
class Trend:
    """What the metrics page draws for one flow."""

    flow: str
    zone: str
    abbrev: str
    unit: str
    """``hour`` or ``day``."""
    buckets: list[Bucket]
    numbers: StateNumbers
    @property
    def totals(self) -> FlowMetrics:
        """The period's totals, as the KPI cards show them."""
        out = FlowMetrics(self.flow)
        for b in self.buckets:
            out.outcomes.update(b.outcomes)
        out.calls = sum(out.outcomes.values())
        out.zero_outs = self.numbers.zero_outs
        return out

    @property
    def zone_label(self) -> str:
        """e.g. ``days in America/New_York (EST)``."""
        return f"{self.unit}s in {self.zone} ({self.abbrev})"

    def funnel(self) -> list[tuple[str, int]]:
        """Entered → reached a menu → self-served / a person / "other" / voicemail / hung
        up (outcomes of calls that never reached a menu included)."""
        t = self.totals.outcomes
        rest = sum(t.values()) - sum(t[o] for o in ENDINGS)
        steps = [("entered", sum(t.values())), ("reached a menu", self.numbers.menu_calls),
                 ("self-served", t["completed"]), ("a person", t["human"]),
                 ('"other"', t["other"]), ("voicemail", t["voicemail"]),
                 ("hung up", t["hangup"])]
        return steps + ([("ended otherwise", rest)] if rest else [])

    def person_times(self) -> list[float]:
        return sorted(self.numbers.to_person.values())


def _whole_hours(tz: tzinfo, *times: datetime) -> bool:
    return all(int((t.astimezone(tz).utcoffset() or timedelta()).total_seconds()) % 3600 == 0
               for t in times)


def _floor(when: datetime, unit: str) -> datetime:
    """The start of the hour or the day ``when`` is in, in ``when``'s own zone."""
    if unit == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _key(when: datetime, tz: tzinfo, unit: str) -> datetime:
    """The bucket of an instant: the UTC instant its local hour or day starts."""
    local = when.astimezone(tz)
    if unit == "hour":
        return _floor(local, unit).astimezone(UTC)
    return datetime(local.year, local.month, local.day, tzinfo=tz).astimezone(UTC)


def bucket_starts(since: datetime, now: datetime, tz: tzinfo, unit: str) -> list[datetime]:
    """Local starts of every hour or calendar day from ``since`` to ``now`` (a day across
    a DST change is 23 or 25 hours long; an hour is always an hour)."""
    if unit == "hour":
        first = _key(since, tz, unit)
        count = int((now - first).total_seconds() // 3600) + 1
        return [(first + timedelta(hours=i)).astimezone(tz) for i in range(count)]
    day, last = since.astimezone(tz).date(), now.astimezone(tz).date()
    out = []
    while day <= last:
        out.append(datetime(day.year, day.month, day.day, tzinfo=tz))
        day += timedelta(days=1)
    return out


def _label(start: datetime, unit: str) -> str:
    """``Fri 20 Nov|20 Nov`` (hover title | axis tick), ``Fri 20 Nov 14:00|14:00``."""
    if unit == "hour":
        return start.strftime("%a %d %b %H:00|%H:00")
    return start.strftime("%a %d %b|%d %b")


def _utc_prefix(prefix: str) -> datetime:
    text = prefix + (":00" if len(prefix) == HOUR else "")
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def trend(archive: Archive, flow_id: str, flow: Flow | None, period: str,
          now: datetime | None = None) -> Trend:
    """The flow's numbers over ``period`` (a key of :data:`PERIODS`) up to ``now``."""
    now = now or datetime.now(UTC)
    name, tz = flow_zone(flow)
    since = now - SPANS[period] if period in SPANS else None
    window = Period(flow_id, since, None)
    if since is None:
        first = first_call(archive, flow_id)
        since = datetime.fromisoformat(first) if first else now
    unit = "hour" if period == "24h" else "day"
    buckets = {_key(s, tz, unit): Bucket(s, _label(s, unit))
               for s in bucket_starts(since, now, tz, unit)}
    width = HOUR if _whole_hours(tz, since, now) else MINUTE
    for prefix, outcome, n in outcome_buckets(archive, window, width):
        b = buckets.get(_key(_utc_prefix(prefix), tz, unit))
        if b is not None:
            b.outcomes[outcome if outcome in ENDINGS else "rest"] += n
    numbers = state_numbers(archive, flow_id, flow, window)
    for sid, started in numbers.started.items():
        b = buckets.get(_key(datetime.fromisoformat(started), tz, unit))
        if b is None:
            continue
        b.zero_outs += sid in numbers.zeroed
        if sid in numbers.to_person:
            b.to_person.append(numbers.to_person[sid])
    abbrev = now.astimezone(tz).tzname() or name
    return Trend(flow_id, name, abbrev, unit, list(buckets.values()), numbers)


def flows_in(archive: Archive) -> list[str]:
    """Flow ids with archived calls (a flow no longer published still has its numbers)."""
    return archived_flows(archive)
