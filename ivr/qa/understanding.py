"""QA sees understanding: which menu intents the transcripts reach, and, for ``say`` steps
that name what the caller meant (``meant: balance``), how often the engine understood.

``ivr replay --coverage`` prints both under the state/transition coverage:

- **intent coverage per menu**: each intent of each menu state is covered when some
  transcript took its edge (``main_menu>intent_balance>balance``), whether by a key, by
  speech or after a confirmation;
- **per-intent accuracy**: of the steps that meant intent X, how many went straight to X
  (right), were asked "is that right?" about X (confirmed), went elsewhere (wrong, with
  where), per flow. Measured in-process only: over ``--via`` the server does not say which
  edge a turn took.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ivr.flowlang.machine import Compiled
from ivr.flowlang.model import HUMAN, OTHER, Kind
from ivr.qa.drivers import Observed

CONFIRM = "confirm:"
"""A decision that asked about an intent first: ``confirm:<intent>``."""
NOTHING = "(nothing)"


def decided(state: str | None, turn: Observed) -> str:
    """What a turn made of the caller's words at menu ``state``: an intent name, ``other``,
    ``human``, ``confirm:<intent>``, or ``(nothing)`` (asked again)."""
    for hop in turn.hops or ():
        src, trigger, _ = (hop.split(">") + ["", ""])[:3]
        if trigger == HUMAN:
            return HUMAN
        if src == state and trigger.startswith("intent_"):
            return trigger.removeprefix("intent_")
    return f"{CONFIRM}{turn.pending}" if turn.pending else NOTHING


@dataclass
class Understood:
    """Per flow: the menus' intents and which were reached; what meant steps got."""

    flow: str
    intents: dict[str, list[str]]
    """Menu state → its intents (``other`` included)."""
    reached: set[tuple[str, str]] = field(default_factory=set)
    meant: list[tuple[str, str, str]] = field(default_factory=list)
    """(menu state, what the caller meant, what the engine decided)."""

    def missing(self) -> list[str]:
        return [f"{m}:{i}" for m, names in self.intents.items() for i in names
                if (m, i) not in self.reached]

    def total(self) -> int:
        return sum(len(v) for v in self.intents.values())


def menus(c: Compiled) -> dict[str, list[str]]:
    """Each menu state of ``c`` with its intents' names."""
    return {name: [i.name for i in s.intents] for name, s in c.flow.states.items()
            if s.kind is Kind.MENU}


def understood(c: Compiled, edges: Iterable[str],
               meant: Iterable[tuple[str, str, str]]) -> Understood:
    """The intents of ``c`` that ``edges`` reached, and the ``meant`` decisions."""
    u = Understood(c.flow.id, menus(c))
    for edge in edges:
        src, trigger, _ = (edge.split(">") + ["", ""])[:3]
        if src in u.intents and trigger.startswith("intent_"):
            u.reached.add((src, trigger.removeprefix("intent_")))
    u.meant.extend(meant)
    return u


def accuracy(u: Understood) -> dict[str, dict[str, int]]:
    """Per meant label: right / confirmed / wrong counts, and each wrong decision's count."""
    out: dict[str, dict[str, int]] = {}
    for _, want, got in u.meant:
        row = out.setdefault(want, {"right": 0, "confirmed": 0, "wrong": 0})
        if got == want:
            row["right"] += 1
        elif got == f"{CONFIRM}{want}":
            row["confirmed"] += 1
        else:
            row["wrong"] += 1
            row[f"-> {got}"] = row.get(f"-> {got}", 0) + 1
    return out


def format_understood(u: Understood) -> list[str]:
    """The lines ``ivr replay --coverage`` prints for one flow."""
    got = u.total() - len(u.missing())
    lines = [f"    intents reached: {got}/{u.total()} "
             f"({100.0 * got / max(1, u.total()):.1f}%) in {len(u.intents)} menu(s)"]
    if u.missing():
        lines.append(f"    intents never reached: {', '.join(u.missing())}")
    acc = accuracy(u)
    if not acc:
        return lines
    right = sum(r["right"] for r in acc.values())
    asked = sum(r["confirmed"] for r in acc.values())
    lines.append(f"    understood (steps with meant:): {right}/{len(u.meant)} right, "
                 f"{asked} confirmed first, {len(u.meant) - right - asked} wrong")
    for label in sorted(acc, key=lambda k: (k in (OTHER, HUMAN), k)):
        r = acc[label]
        n = r["right"] + r["confirmed"] + r["wrong"]
        wrong = ", ".join(f"{k[3:]} {v}" for k, v in sorted(r.items()) if k.startswith("-> "))
        lines.append(f"      {label:<14} {r['right']}/{n} right, {r['confirmed']} confirmed"
                     + (f", wrong: {wrong}" if wrong else ""))
    return lines
