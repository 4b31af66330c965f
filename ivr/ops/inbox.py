"""The "other" inbox for ops: what callers said that no menu option matched.

``ivr inbox`` lists the captures newest first; ``ivr inbox --top`` groups similar
utterances (:func:`without_fillers`, then greedy clustering with rapidfuzz's
``token_set_ratio``) so ops see "found someone's card: 37" and know which intent to add
next. Grouping is for people reading the inbox; the matcher's own word analysis
(:mod:`ivr.runtime.words`: stems, negation) is a different job and is not used here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rapidfuzz import fuzz, process

THRESHOLD = 80
EXAMPLES = 3
_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_FILLER = frozenset("""a an the i i'm im um uh er erm hmm like so well just please yeah yes hi
hello hey okay ok oh and to my me is it was of for on in at uhm""".split())
COLUMNS = ("at", "flow", "state", "caller", "said")


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


def without_fillers(text: str) -> str:
    """Lower case, no punctuation, no filler words: 'Um, I FOUND a card!' → 'found card'
    (all fillers: kept as said, so every utterance has a group)."""
    words = re.sub(r"[^\w\s'\[\]]", " ", text.lower()).replace("'s ", "s ").split()
    kept = [w.strip("'") for w in words if w.strip("'") not in _FILLER]
    return " ".join(kept) or " ".join(words)


@dataclass
class Group:
    """Utterances that say the same thing: a representative phrase and how many said it."""

    phrase: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


def top(utterances: Iterable[str], threshold: int = THRESHOLD) -> list[Group]:
    """Group similar utterances, biggest group first.

    Greedy: distinct phrases (:func:`without_fillers`) are taken most frequent first; each joins the
    existing group whose representative it matches best with ``token_set_ratio`` ≥
    ``threshold``, or starts a new group (and becomes its representative).
    """
    originals: dict[str, Counter[str]] = {}
    for text in utterances:
        if text and text.strip():
            originals.setdefault(without_fillers(text), Counter())[text.strip()] += 1
    order = sorted(originals, key=lambda k: (-sum(originals[k].values()), k))
    reps: list[str] = []
    groups: list[Group] = []
    for norm in order:
        hit = process.extractOne(norm, reps, scorer=fuzz.token_set_ratio,
                                 score_cutoff=threshold) if reps else None
        if hit is None:
            reps.append(norm)
            groups.append(Group(originals[norm].most_common(1)[0][0]))
            group = groups[-1]
        else:
            group = groups[hit[2]]
        group.count += sum(originals[norm].values())
        for text, _ in originals[norm].most_common():
            if len(group.examples) < EXAMPLES and text not in group.examples:
                group.examples.append(text)
    return sorted(groups, key=lambda g: (-g.count, g.phrase))


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
