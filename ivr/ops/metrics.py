"""Numbers for the console, read from the call archive (:class:`ivr.jobs.archive.Archive`).

Per flow: calls, outcomes, the "other" rate, containment (calls that completed without a
person) and **zero-outs per state**: calls where the caller asked for a person with the
flow's human key or a human phrase, grouped by the state they were in when they did. A
menu with many zero-outs is the menu that confuses callers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.flowlang.model import HUMAN, Flow
from ivr.jobs import archive_console
from ivr.jobs.archive import Archive
from ivr.runtime.matcher import match

OUTCOMES = ("completed", "human", "other", "voicemail", "hangup", "lost")


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


def flow_metrics(archive: Archive, flows: dict[str, Flow | None],
                 since: datetime | None = None) -> list[FlowMetrics]:
    """Metrics of every flow in the archive (and every flow in ``flows``), by flow id.

    Outcomes are counted by the database; only the turns that may ask for a person are
    read (:mod:`ivr.jobs.archive_console`), the first that does per call is its zero-out
    (what :func:`zero_out_state` finds in all of a call's turns)."""
    out = {fid: FlowMetrics(fid) for fid in flows}
    for fid, outcome, n in archive_console.outcome_counts(archive, since):
        m = out.setdefault(fid, FlowMetrics(fid))
        m.calls += n
        m.outcomes[outcome or "hangup"] += n
    keys = {"0"} | {k for f in flows.values() if f is not None for k in f.human.keys}
    done: set[str] = set()
    for sid, fid, turn in archive_console.human_candidates(archive, keys, since):
        if sid in done or not asked_for_human(turn, flows.get(fid)):
            continue
        done.add(sid)
        out.setdefault(fid, FlowMetrics(fid)).zero_outs[str(turn.get("from", ""))] += 1
    return sorted(out.values(), key=lambda m: (-m.calls, m.flow))
