"""Numbers for the console, read from the call archive (:mod:`ivr.jobs.archive`, SQLite).

Per flow: calls, outcomes, the "other" rate, containment (calls that completed without a
person) and **zero-outs per state**: calls where the caller asked for a person with the
flow's human key or a human phrase, grouped by the state they were in when they did. A
menu with many zero-outs is the menu that confuses callers.

The archive is opened read-only (``mode=ro``); a missing archive reads as no calls.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.flowlang.model import HUMAN, Flow
from ivr.jobs.archive import utc
from ivr.runtime.matcher import match

OUTCOMES = ("completed", "human", "other", "voicemail", "hangup")


@dataclass
class FlowMetrics:
    """What the metrics page shows for one flow."""

    flow: str
    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    zero_outs: Counter[str] = field(default_factory=Counter)

    def pct(self, n: int) -> float:
        return 100.0 * n / self.calls if self.calls else 0.0

    @property
    def containment(self) -> float:
        """Share of calls that completed without a person."""
        return self.pct(self.outcomes["completed"])

    @property
    def other_rate(self) -> float:
        return self.pct(self.outcomes["other"])

    @property
    def zero_out_calls(self) -> int:
        return sum(self.zero_outs.values())


@contextmanager
def _read(path: str) -> Iterator[sqlite3.Connection | None]:
    if not Path(path).exists():
        yield None
        return
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        yield db


def asked_for_human(turn: dict[str, Any], flow: Flow | None) -> bool:
    """Whether this turn is the caller pressing the human key or saying a human phrase."""
    heard = turn.get("heard") or {}
    if turn.get("from") in ("", HUMAN, None) or turn.get("to") == turn.get("from"):
        return False
    keys = flow.human.keys if flow else ("0",)
    if heard.get("kind") == "digits":
        return str(heard.get("digits", "")) in keys
    if heard.get("kind") == "speech" and flow is not None:
        text = str(heard.get("text", ""))
        return match(text, (), flow.human.phrases, flow.matching,
                     human_keys=flow.human.keys).kind == "human"
    return False


def zero_out_state(turns: list[dict[str, Any]], flow: Flow | None) -> str:
    """The state a call zeroed out from ('' when the caller never asked for a person)."""
    for t in turns:
        if asked_for_human(t, flow):
            return str(t.get("from", ""))
    return ""


def flow_metrics(archive_path: str, flows: dict[str, Flow | None],
                 since: datetime | None = None) -> list[FlowMetrics]:
    """Metrics of every flow in the archive (and every flow in ``flows``), by flow id."""
    out = {fid: FlowMetrics(fid) for fid in flows}
    cutoff = utc(since.isoformat()) if since else ""
    with _read(archive_path) as db:
        if db is None:
            return sorted(out.values(), key=lambda m: m.flow)
        calls = db.execute("SELECT sid, flow, outcome FROM calls WHERE ended >= ?", (cutoff,))
        rows = list(calls)
        turns: dict[str, list[dict[str, Any]]] = {}
        for sid, data in db.execute(
                "SELECT t.sid, t.data FROM turns t JOIN calls c ON c.sid = t.sid "
                "WHERE c.ended >= ? ORDER BY t.sid, t.turn", (cutoff,)):
            turns.setdefault(sid, []).append(json.loads(data))
    for sid, fid, outcome in rows:
        m = out.setdefault(fid, FlowMetrics(fid))
        m.calls += 1
        m.outcomes[outcome or "hangup"] += 1
        state = zero_out_state(turns.get(sid, []), flows.get(fid))
        if state:
            m.zero_outs[state] += 1
    return sorted(out.values(), key=lambda m: (-m.calls, m.flow))
