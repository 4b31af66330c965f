"""The decision rules of bench/semantic.py (kept apart so each module stays small)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivr.flowlang.model import HUMAN, OTHER, Intent
from ivr.runtime.matcher import Match, says_none, wants_human
from ivr.runtime.words import analyse


def lexical_first(text: str, intents: Sequence[Intent], human: tuple[str, ...],
                  keys: tuple[str, ...]) -> Match | None:
    """Empty speech, a person, "none of these": decided lexically, as today."""
    words = analyse(text)
    if not words.seq:
        return Match("none")
    if wants_human(words, human, keys):
        return Match(HUMAN, score=1.0)
    extra = tuple(p for i in intents if i.name == OTHER for p in i.phrases)
    if says_none(words, extra):
        return Match(OTHER, OTHER, 1.0)
    return None


@dataclass(frozen=True)
class Thresholds:
    """intent when score ≥ sure and margin ≥ gap; confirm when score ≥ floor and margin ≥
    gap; else other."""

    floor: float
    sure: float
    gap: float


def decide(ranked: list[tuple[float, str]], t: Thresholds, lexical: Match | None = None,
           other_score: float = -1.0) -> Match:
    """``ranked``: (score, intent) best first; ``other_score``: the best "not this menu"."""
    if not ranked:
        return Match(OTHER, OTHER)
    top, name = ranked[0]
    second = max(ranked[1][0] if len(ranked) > 1 else -1.0, other_score)
    if top < t.floor or top - second < t.gap:
        return Match(OTHER, OTHER, top, name)
    agrees = lexical is not None and lexical.kind == "intent" and lexical.intent == name
    if top >= t.sure or agrees:
        return Match("intent", name, top)
    return Match("confirm", name, top)


def guard(ranked: list[tuple[float, str]], other: float, lexical: Match,
          t: Thresholds) -> Match:
    """The lexical decision, checked by the embeddings: kept when they agree (margin ≥
    ``gap`` over the runner-up and "not this menu"); sent to ``other`` when "not this menu"
    is nearer than the intent; otherwise asked ("is that right?"). A lexical ``other``
    becomes a confirmation when the embeddings are sure (score ≥ ``sure``)."""
    if not ranked:
        return Match(OTHER, OTHER) if lexical.kind in ("intent", "confirm") else lexical
    top, name = ranked[0]
    margin = top - max(ranked[1][0] if len(ranked) > 1 else -1.0, other)
    if lexical.kind in ("intent", "confirm"):
        mine = next((s for s, n in ranked if n == lexical.intent), -1.0)
        if other >= mine:
            return Match(OTHER, OTHER, mine, lexical.intent)
        if name == lexical.intent and margin >= t.gap:
            return lexical
        return Match("confirm", lexical.intent, mine)
    if top >= t.sure and margin >= t.gap:
        return Match("confirm", name, top)
    return lexical
