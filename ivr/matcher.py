"""Speech → intent: a score for each intent, and a decision (intent, confirm, other, human).

The matcher is pure and small on purpose; the engine depends only on :func:`match` and
:class:`Match`. Scores are 0..1. Phrases are normalised (case, punctuation, fillers) and
compared with rapidfuzz; an intent's ``not`` phrases veto it; the caller's explicit "none of
these" goes to ``other``; the ASR confidence scales the score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from ivr.flow import Intent, Matching

OTHER = "other"
FILLERS = {"um", "uh", "er", "erm", "hmm", "like", "please", "yeah", "so", "well", "just",
           "i", "a", "the", "to", "my", "me", "want", "wanna", "need", "would", "id", "i'd",
           "you", "can", "could", "know", "okay", "ok", "hi", "hello"}
NONE_OF_THESE = ("none of these", "none of those", "something else", "none of the above",
                 "neither", "other", "different", "not listed", "none")


@dataclass(frozen=True)
class Match:
    """The decision for one utterance.

    ``kind`` is "human", "intent" (go to ``intent``), "confirm" (ask before going to
    ``intent``), "other" (nothing fits) or "none" (empty/unusable speech: a no-match).
    """

    kind: str
    intent: str = ""
    score: float = 0.0
    runner_up: str = ""


def normalise(text: str) -> str:
    """Lower case, no punctuation, no fillers, single spaces."""
    words = re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "").split()
    return " ".join(w for w in words if w not in FILLERS)


def phrase_score(utterance: str, phrase: str) -> float:
    """0..1 similarity of a normalised utterance and a normalised phrase."""
    if not utterance or not phrase:
        return 0.0
    if f" {phrase} " in f" {utterance} ":
        return 1.0
    partial = fuzz.partial_ratio(phrase, utterance) if len(phrase) <= len(utterance) else 0.0
    return max(fuzz.token_set_ratio(utterance, phrase), partial * 0.95) / 100.0


def _mentions(utterance: str, phrases: tuple[str, ...] | list[str]) -> bool:
    return any(phrase_score(utterance, normalise(p) or p.lower()) >= 0.9 for p in phrases)


def match(text: str, intents: tuple[Intent, ...], human_phrases: tuple[str, ...],
          matching: Matching, confidence: float | None = None) -> Match:
    """Decide what ``text`` asks for among ``intents`` (see :class:`Match`)."""
    raw = " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())
    utterance = normalise(text)
    if not raw:
        return Match("none")
    if _mentions(raw, human_phrases):
        return Match("human", score=1.0)
    if any(f" {p} " in f" {raw} " for p in NONE_OF_THESE):
        return Match(OTHER, OTHER, 1.0)
    scores: list[tuple[float, str]] = []
    for intent in intents:
        if intent.negatives and _mentions(raw, intent.negatives):
            continue
        best = max((phrase_score(utterance, normalise(p)) for p in intent.phrases), default=0.0)
        scores.append((best, intent.name))
    scores.sort(reverse=True)
    if not scores or not utterance:
        return Match(OTHER, OTHER, 0.0)
    asr = 1.0 if confidence is None else min(max(confidence, 0.0), 1.0)
    top, name = scores[0]
    score = top * (0.7 + 0.3 * asr)
    second, runner = scores[1] if len(scores) > 1 else (0.0, "")
    if score < matching.threshold or (top - second) < matching.margin and name != OTHER:
        return Match(OTHER, OTHER, score, name)
    if score < matching.confirm_below and name != OTHER:
        return Match("confirm", name, score, runner)
    return Match("intent", name, score, runner)
