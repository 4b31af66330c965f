"""The "other" inbox for ops: what callers said that no menu option matched.

``ivr inbox`` lists the captures newest first; ``ivr inbox --top`` groups them by meaning
with a suggested edit each (:mod:`ivr.ops.inbox_groups`; the lexical :func:`top` of
:mod:`ivr.qa.grouping`, shared with the what-if report, without the model) so ops see
"found someone's card: 37" and know which intent to add next.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from ivr.qa.grouping import EXAMPLES, THRESHOLD, Group, top, without_fillers

_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
__all__ = ["EXAMPLES", "THRESHOLD", "Group", "needs", "parse_since", "render_items",
           "render_top", "top", "without_fillers"]
COLUMNS = ("at", "flow", "state", "caller", "menu_said", "said")


def needs(item: dict[str, Any]) -> str:
    """What an inbox item says the caller needed: their words at the menu that fell
    through when there were any ("I found somebody's card"), else their capture answer."""
    return str(item.get("menu_said") or item.get("said") or "")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'7d', '12h', '30m', '2w', or an ISO date/time → an aware datetime (UTC when naive).

    Raises:
        ValueError: With the accepted forms, for anything else.
    """
    m = _SINCE.match(text)
    if m:
        delta = timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a time: use e.g. 7d, 12h, 30m, 2w or "
                         "2026-11-01 or 2026-11-01T09:00-05:00") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return buf.getvalue().rstrip("\n")


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " > ".join(map(str, value))
    return "" if value is None else str(value)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], width: int = 60) -> str:
    cells = [[_cell(r.get(c)).replace("\n", " ") for c in columns] for r in rows]
    cells = [[v if len(v) <= width else v[:width - 1] + "…" for v in row] for row in cells]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def render_items(items: Sequence[dict[str, Any]], fmt: str = "table") -> str:
    """Inbox items as a table, JSON (a list) or CSV."""
    if fmt == "json":
        return json.dumps([{k: v for k, v in i.items() if k != "caller_key"} for i in items],
                          indent=2)
    if fmt == "csv":
        return _csv(items, (*COLUMNS, "sid", "version", "path", "handled"))
    if not items:
        return "inbox is empty"
    return _table(items, COLUMNS)


def render_top(groups: Sequence[Group], fmt: str = "table") -> str:
    """Grouped utterances as a table ("count  phrase"), JSON or CSV."""
    rows = [asdict(g) for g in groups]
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        return _csv(rows, ("count", "phrase", "examples"))
    if not rows:
        return "inbox is empty"
    return "\n".join(f"{g.phrase}: {g.count}" for g in groups)
