"""Per-state numbers of one flow over one period, read from the call archive: what the
flow graph draws (edge width, node colour, tooltips) and the metrics page's drop-offs.

Where each number comes from:

Paths are counted by the database (calls per distinct path and outcome); transcript lines
are read only for calls that went through ``human`` (every request for a person does: the
escape hatch enters it before any voicemail or queue).

- **calls through** a state: archived calls whose ``path`` (the states the call entered,
  the last 24 of them) contains it; through an arrow ``A → B``: calls whose path has ``B``
  right after ``A``.
- **zero-outs** there: calls whose caller pressed a human key or said a human phrase in
  that state (the first time they did; :func:`ivr.ops.metrics.asked_for_human` on the
  transcript line of the turn that took them towards a person).
- **"other"** there: calls that took the state's ``other`` intent ("none of these").
- **hang-ups** there: calls with outcome ``hangup`` whose last state (before the built-in
  end) was this one: where callers gave up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.flowlang.machine import END, OFFER, VOICEMAIL, WAIT
from ivr.flowlang.model import HUMAN, OTHER, Flow, Kind
from ivr.jobs.archive import Archive
from ivr.jobs.archive_stats import PathCount, Period, path_counts, turns_like
from ivr.ops.metrics import asked_for_human

PERSON_SIDE = (HUMAN, OFFER, VOICEMAIL, WAIT)
"""Where the turn that asks for a person can end (a person, a callback offer, the
built-in voicemail, the queue); the flow's ``when_closed`` state is added per flow."""
PERSON_ACTIONS = ("dial", "enqueue")


@dataclass
class StateNumbers:
    """Per-state counts of one flow and period (state ids as in the call paths)."""

    calls: int = 0
    through: Counter[str] = field(default_factory=Counter)
    edges: Counter[tuple[str, str]] = field(default_factory=Counter)
    zero_outs: Counter[str] = field(default_factory=Counter)
    other: Counter[str] = field(default_factory=Counter)
    hangups: Counter[str] = field(default_factory=Counter)
    zeroed: dict[str, str] = field(default_factory=dict)
    """CallSid → the state it zeroed out from."""
    to_person: dict[str, float] = field(default_factory=dict)
    """CallSid → seconds from the call's start until the person answered (the Dial leg's
    ``answered`` report), or else until the turn that rang a person or queued."""
    picked_up: set[str] = field(default_factory=set)
    """The calls whose time to a person is the person answering."""
    started: dict[str, str] = field(default_factory=dict)
    """CallSid → start time (UTC ISO) of the calls in ``zeroed`` or ``to_person``."""
    menu_calls: int = 0
    """Calls that reached a menu."""

    def reached_by(self, sid: str, line: dict[str, Any]) -> bool:
        """Whether ``line`` is the one that counts as call ``sid`` reaching a person: the
        person's phone answering (a Dial leg's first ``answered`` report, which is
        recorded in ``picked_up``), else the first turn that rang a person or queued."""
        heard = line.get("heard") or {}
        if heard.get("kind") == "leg" and heard.get("status") == "answered":
            first = sid not in self.picked_up
            self.picked_up.add(sid)
            return first
        actions = line.get("actions") or []
        return sid not in self.to_person and any(a in PERSON_ACTIONS for a in actions)

    def zero_rate(self, state: str) -> float:
        """Share (0..1) of the calls through ``state`` that zeroed out there."""
        n = self.through[state]
        return self.zero_outs[state] / n if n else 0.0


def last_state(path: tuple[str, ...]) -> str:
    """The state a call was in when it ended ('' for an empty path)."""
    states = [s for s in path if s != END]
    return states[-1] if states else ""


def add_paths(numbers: StateNumbers, flow: Flow | None, paths: list[PathCount]) -> None:
    """Count calls through states and arrows, "other" and hang-ups from the paths."""
    states = flow.states.values() if flow else ()
    other_goto = {s.name: i.goto for s in states for i in s.intents if i.name == OTHER}
    menus = {s.name for s in states if s.kind is Kind.MENU}
    for p in paths:
        path, n = p.path, p.calls
        numbers.calls += n
        if flow is not None and path and path[0] == flow.start:
            numbers.edges[("__start__", flow.start)] += n
        for state in set(path):
            numbers.through[state] += n
        if menus.intersection(path):
            numbers.menu_calls += n
        for a, b in set(zip(path, path[1:], strict=False)):
            numbers.edges[(a, b)] += n
            if other_goto.get(a) == b:
                numbers.other[a] += n
        if p.outcome == "hangup" and (where := last_state(path)):
            numbers.hangups[where] += n


def add_turns(numbers: StateNumbers, flow: Flow | None,
              lines: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Zero-outs per state and the time to a person from the transcript lines."""
    asked: dict[str, bool] = {}  # the same words, the same answer: match once
    for sid, started, line in lines:
        if sid not in numbers.zeroed and _asked(line, flow, asked):
            numbers.zeroed[sid] = str(line.get("from", ""))
            numbers.zero_outs[numbers.zeroed[sid]] += 1
            numbers.started[sid] = started
        if numbers.reached_by(sid, line):
            seconds = _seconds(started, str(line.get("at") or ""))
            if seconds is not None:
                numbers.to_person[sid] = seconds
                numbers.started[sid] = started


def _asked(line: dict[str, Any], flow: Flow | None, memo: dict[str, bool]) -> bool:
    heard = line.get("heard") or {}
    if heard.get("kind") != "speech":
        return asked_for_human(line, flow)
    key = f"{line.get('from')}|{line.get('to')}|{heard.get('text', '')}"
    if key not in memo:
        memo[key] = asked_for_human(line, flow)
    return memo[key]


def _seconds(started: str, at: str) -> float | None:
    try:
        return max(0.0, (datetime.fromisoformat(at) - datetime.fromisoformat(started))
                   .total_seconds())
    except ValueError:
        return None


def needles(flow: Flow | None) -> list[str]:
    """What the stored transcript lines worth reading contain: a turn that ended on the
    person side, or one that rang a person or joined a queue."""
    ends = [*PERSON_SIDE, *([flow.human.when_closed] if flow and flow.human.when_closed
                            else [])]
    return [f'"to":"{e}"' for e in ends] + [f'"{a}"' for a in PERSON_ACTIONS]


def state_numbers(archive: Archive, flow_id: str, flow: Flow | None,
                  period: Period | None = None) -> StateNumbers:
    """Every per-state number of ``flow_id`` over ``period`` (default: all time)."""
    period = period or Period(flow_id)
    numbers = StateNumbers()
    add_paths(numbers, flow, path_counts(archive, period))
    add_turns(numbers, flow, turns_like(archive, period, needles(flow), passed=HUMAN))
    return numbers
