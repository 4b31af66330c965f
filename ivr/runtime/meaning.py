"""A second opinion on what a caller meant, by meaning rather than words (pure).

The lexical matcher (:mod:`ivr.runtime.matcher`) decides every menu answer. When the
deployment runs ``ivr[semantic]`` (``semantic_matching: true``), :class:`Meaning` checks
that decision against sentence embeddings (:mod:`ivr.semantic.guard`; the model is loaded
outside the engine and arrives in :class:`ivr.runtime.work.Options`). The engine asks only
through :func:`second_opinion`, which keeps the guarantees whatever the checker does:

- a person, empty speech, a spoken key and "none of these" stay the lexical decision;
- only an intent, a confirmation or "other" can come back, for an intent of this menu;
- a checker that fails (raises) leaves the lexical decision: calls never fail because of
  the model.
"""

from __future__ import annotations

from typing import Protocol

from ivr.flowlang.model import OTHER, Intent, Matching
from ivr.runtime.matcher import Match

CHECKED = ("intent", "confirm", OTHER)
"""The lexical decisions a second opinion may change, and the ones it may give."""


class Meaning(Protocol):
    """What :func:`second_opinion` needs from a meaning checker."""

    def check(self, text: str, intents: tuple[Intent, ...], lexical: Match,
              matching: Matching, language: str) -> Match:
        """The decision for ``text`` at a menu of ``intents``, given the lexical one."""
        ...


def second_opinion(meaning: Meaning | None, text: str, intents: tuple[Intent, ...],
                   lexical: Match, matching: Matching, language: str) -> Match:
    """``lexical``, or what ``meaning`` makes of it (see the module docstring)."""
    if meaning is None or lexical.said or lexical.kind not in CHECKED:
        return lexical
    try:
        decided = meaning.check(text, intents, lexical, matching, language)
    except Exception:  # noqa: BLE001 - the model must never fail a call
        return lexical
    names = {i.name for i in intents if i.name != OTHER}
    if decided.kind == OTHER or (decided.kind in CHECKED and decided.intent in names):
        return decided
    return lexical
