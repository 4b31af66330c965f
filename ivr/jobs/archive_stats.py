"""Reads of the call archive for numbers over time: the console's metrics charts and the
numbers drawn on a flow's graph (:mod:`ivr.ops.trends`, :mod:`ivr.ops.graph_stats`).

Every query is for one flow over one period of call start times (``since`` ≤ started <
``until``, ISO text in UTC, which sorts as time) and rides the ``calls_by_flow_started``
index (migration r0004). Counting is done by the database where it can be: calls per
outcome per UTC hour (or minute) is one ``GROUP BY substr(started, 1, n)``; the console
moves those buckets into the flow's time zone. Transcript lines are read only where a
number needs one: the turns that took a caller to a person (a ``LIKE`` on the stored
compact JSON picks them; Python checks each one it reads).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from ivr.jobs.archive import Archive, utc
from ivr.store.db import tables as T

HOUR = 13
"""``substr(started, 1, 13)``: ``2026-11-20T19``, a UTC hour."""
MINUTE = 16
"""``substr(started, 1, 16)``: ``2026-11-20T19:05``, for zones whose offset is not whole
hours (India, Nepal, parts of Australia)."""


@dataclass(frozen=True)
class Period:
    """Calls of ``flow`` that started in [since, until); None: no bound."""

    flow: str
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> ColumnElement[bool]:
        c = T.calls.c
        parts = [c.flow == self.flow, c.started != ""]
        if self.since is not None:
            parts.append(c.started >= utc(self.since.isoformat()))
        if self.until is not None:
            parts.append(c.started < utc(self.until.isoformat()))
        return and_(*parts)


@dataclass(frozen=True)
class PathCount:
    """How many calls of the period took one path (the states entered) to one outcome."""

    path: tuple[str, ...]
    outcome: str
    calls: int


def outcome_buckets(archive: Archive, period: Period,
                    width: int = HOUR) -> list[tuple[str, str, int]]:
    """(UTC time prefix, outcome, calls) per bucket, counted by the database.

    Args:
        width: :data:`HOUR` or :data:`MINUTE` characters of ``started``.
    """
    c = T.calls.c
    bucket = func.substr(c.started, 1, width).label("bucket")
    query = (select(bucket, c.outcome, func.count().label("n")).where(period.where())
             .group_by(bucket, c.outcome).order_by(bucket))
    with archive.engine.connect() as db:
        return [(str(b), str(o or ""), int(n)) for b, o, n in db.execute(query)]


def path_counts(archive: Archive, period: Period) -> list[PathCount]:
    """Calls per (path, outcome), counted by the database: many calls share a path, so
    this is a few hundred rows where the calls are thousands."""
    c = T.calls.c
    query = (select(c.path, c.outcome, func.count()).where(period.where())
             .group_by(c.path, c.outcome))
    with archive.engine.connect() as db:
        rows = db.execute(query).all()
    return [PathCount(tuple(_states(p)), str(o or ""), int(n)) for p, o, n in rows]


def _states(raw: object) -> list[str]:
    try:
        value = json.loads(str(raw or "[]"))
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def turns_like(archive: Archive, period: Period, needles: Iterable[str], passed: str = ""
               ) -> list[tuple[str, str, dict[str, Any]]]:
    """(sid, call started, turn line) of the period's turns whose stored JSON contains any
    of ``needles`` (e.g. ``'"to":"human"'``), oldest turn of each call first; with
    ``passed``, only of calls whose path went through that state (or has no path). A
    needle is a filter, not a proof: the caller checks each line it gets."""
    c, t = T.calls.c, T.turns.c
    wanted = [t.data.contains(n, autoescape=True) for n in needles]
    if not wanted:
        return []
    where = [period.where(), or_(*wanted)]
    if passed:
        where.append(or_(c.path.contains(json.dumps(passed), autoescape=True),
                         c.path == "[]"))  # a call archived without its path: read it
    query = (select(t.sid, c.started, t.data).join(T.calls, c.sid == t.sid)
             .where(*where).order_by(t.sid, t.turn))
    out = []
    with archive.engine.connect() as db:
        for sid, started, data in db.execute(query):
            try:
                line = json.loads(data)
            except ValueError:
                continue
            if isinstance(line, dict):
                out.append((str(sid), str(started), line))
    return out


def first_call(archive: Archive, flow: str) -> str:
    """When the flow's oldest archived call started ('' when it has none)."""
    c = T.calls.c
    with archive.engine.connect() as db:
        got = db.scalar(select(func.min(c.started)).where(c.flow == flow, c.started != ""))
    return str(got or "")


def archived_flows(archive: Archive) -> list[str]:
    """Every flow id with an archived call."""
    with archive.engine.connect() as db:
        return sorted(str(f) for f in db.scalars(select(T.calls.c.flow).distinct()))
