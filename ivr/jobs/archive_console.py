"""Archive reads for the console's metrics, aggregated in the database (``archive.py``
keeps the writes and the per-call reads).

The metrics page counted outcomes and zero-outs by reading every turn of every call in
the period (55,000 turns of 10,000 calls: 3-5 s). Here the outcomes are one
``GROUP BY``, and only the turns that can be a request for a person are read: a key press
of one of the flows' human keys, or speech (whether the words ask for a person is the
matcher's call, :func:`ivr.ops.metrics.asked_for_human`). Turn lines are the compact
JSON :meth:`~ivr.jobs.archive.Archive.record_call` writes (``"kind":"speech"``), so a
plain LIKE finds them (0.16 s for 55,000 turns on SQLite, against 0.4 s to read them all).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from ivr.jobs.archive import Archive, utc
from ivr.store.db import tables as T


def _since(since: datetime | None) -> str:
    return utc(since.isoformat()) if since else ""


def outcome_counts(archive: Archive, since: datetime | None = None
                   ) -> list[tuple[str, str, int]]:
    """(flow, outcome, calls) of the calls that ended since ``since``."""
    c = T.calls.c
    query = (select(c.flow, c.outcome, func.count()).where(c.ended >= _since(since))
             .group_by(c.flow, c.outcome))
    with archive.engine.connect() as db:
        return [(str(f), str(o or ""), int(n)) for f, o, n in db.execute(query)]


def _patterns(keys: Iterable[str]) -> list[str]:
    """LIKE patterns (``\\`` escapes) of the lines that may ask for a person."""
    out = ['"kind":"speech"'] + [f'"digits":{json.dumps(str(k))}' for k in sorted(set(keys))]
    return ["%" + re.sub(r"([\\%_])", r"\\\1", p) + "%" for p in out]


def human_candidates(archive: Archive, keys: Iterable[str], since: datetime | None = None
                     ) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(sid, flow, turn) of every turn that may ask for a person (a press of one of
    ``keys``, or speech), of calls that ended since ``since``, by call then turn."""
    c, t = T.calls.c, T.turns.c
    query = (select(t.sid, c.flow, t.data).join(T.calls, c.sid == t.sid)
             .where(c.ended >= _since(since),
                    or_(*(t.data.like(p, escape="\\") for p in _patterns(keys))))
             .order_by(t.sid, t.turn))
    with archive.engine.connect() as db:
        for sid, flow, data in db.execute(query):
            yield str(sid), str(flow), json.loads(data)
