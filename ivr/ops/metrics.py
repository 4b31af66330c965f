"""What the console's numbers mean: a flow's totals and what counts as asking for a person.

:class:`FlowMetrics` holds a period's calls, outcomes, the "other" rate, containment
(calls that completed without a person) and **zero-outs per state**: calls where the
caller asked for a person (:func:`asked_for_human`: the flow's human key or a human
phrase), grouped by the state they were in when they did. A menu with many zero-outs is
the menu that confuses callers. The figures are read by :mod:`ivr.ops.trends` and
:mod:`ivr.ops.state_numbers`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ivr.flowlang.model import HUMAN, Flow
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
