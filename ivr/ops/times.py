"""Times and durations on console pages: in the flow's time zone, labelled.

A time is shown in the zone of its flow's ``hours:`` (``America/New_York`` → ``EST`` or
``EDT``, whichever applied then), or UTC for a flow without hours or unknown; always with
the zone's abbreviation, so "14:05" never leaves anyone guessing. Durations are ``m:ss``,
``h:mm:ss`` from an hour on.

Templates use the filters ``flowtime`` (``{{ e.at | flowtime(flow_id) }}``, with
``short=True`` for the time of day alone) and ``hms`` (``{{ seconds | hms }}``).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from flask import Blueprint, g

from ivr.flowlang.hours import zone
from ivr.flowlang.model import Flow
from ivr.ops.flows import checked_version
from ivr.server.context import get_store


def hms(seconds: float | int | None) -> str:
    """``4:05`` (m:ss), or ``1:02:03`` from an hour on; negatives read 0:00."""
    h, rest = divmod(max(0, int(seconds or 0)), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def flow_zone(flow: Flow | None) -> tuple[str, tzinfo]:
    """The name and zone of ``flow``'s business hours (UTC when it has none, or an unknown
    one): the one lookup of a flow's zone in the console."""
    if flow is not None and flow.hours is not None:
        try:
            return flow.hours.timezone, zone(flow.hours.timezone)
        except ValueError:
            pass
    return "UTC", UTC


def zone_of(flow: Flow | None) -> tzinfo:
    """The zone of ``flow``'s business hours, else UTC."""
    return flow_zone(flow)[1]


def _flow_zone(flow_id: str) -> tzinfo:
    """The zone of ``flow_id``'s current version (once per request)."""
    cache: dict[str, tzinfo] = g.setdefault("ivr_flow_zones", {})
    if flow_id not in cache:
        store = get_store()
        version = store.current(flow_id) if flow_id else None
        checked = checked_version(store, flow_id, version) if version else None
        cache[flow_id] = zone_of(checked.flow if checked else None)
    return cache[flow_id]


def as_time(value: str | datetime | float | None) -> datetime | None:
    """An aware datetime from an ISO string (naive: UTC), a datetime or epoch seconds."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def local(value: str | datetime | float | None, tz: tzinfo, short: bool = False) -> str:
    """``2026-11-20 14:05:00 EST`` (``14:05:00 EST`` with ``short``); '' for no time."""
    when = as_time(value)
    if when is None:
        return str(value or "")
    here = when.astimezone(tz)
    return here.strftime("%H:%M:%S %Z" if short else "%Y-%m-%d %H:%M:%S %Z")


def flowtime(value: str | datetime | float | None, flow_id: str = "",
             short: bool = False) -> str:
    """The template filter: ``value`` in ``flow_id``'s zone, labelled."""
    return local(value, _flow_zone(flow_id), short)


def register(bp: Blueprint) -> None:
    """Make ``flowtime`` and ``hms`` available to the console's templates."""
    bp.add_app_template_filter(flowtime, "flowtime")
    bp.add_app_template_filter(hms, "hms")
