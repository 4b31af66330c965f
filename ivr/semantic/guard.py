"""The meaning guard: the lexical decision, checked by sentence embeddings.

An implementation of :class:`ivr.runtime.meaning.Meaning` for ``semantic_matching: true``
(docs/matching.md, "Semantic matching in the engine"). For a menu it compares the
caller's words, by cosine of MiniLM vectors, with each intent's ``phrases`` and with a
bank of "not this menu" requests (``data/elsewhere.txt``: everyday requests from
CLINC150's train split, none about banking or cards; bank rows too close to one of the
menu's own phrases are left out for that menu) plus the phrases of the menu's own
``other`` intent, so a flow teaches it what is not for this menu. Then:

- a lexical intent (or confirmation) becomes **"other"** when "not this menu" is nearer
  than that intent by ``matching.meaning_veto`` (the tax question that says "owe"); it is
  **kept** when the intent is nearer than "not this menu" by ``matching.meaning_margin``;
  in between, the caller is **asked** ("is that right?");
- a lexical "other" becomes a **confirmation** of the nearest intent when its cosine is at
  least ``matching.meaning_sure`` and it leads the runner-up and "not this menu" by the
  margin; else it stays "other";
- an intent whose ``not:`` phrases the caller said is never proposed.

English menus only (the model is English): any other language keeps the lexical decision.
Vectors: the model once per process, each menu's phrases once (a bounded LRU keyed by the
menu's intents, so a new flow version with new phrases gets new vectors), the bank once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ivr.flowlang.lru import LRU
from ivr.flowlang.model import OTHER, Intent, Matching
from ivr.runtime.matcher import Match, vetoed

DATA = Path(__file__).parent / "data"
BANK_TEXTS = DATA / "elsewhere.txt"
BANK_VECTORS = DATA / "elsewhere.npy"
BANK_OVERLAP = 0.80
"""A bank row this close (cosine) to one of a menu's phrases is not "elsewhere" for it."""
MENUS_KEPT = 256
WORDS_KEPT = 4096


def understands(language: str) -> bool:
    """Whether the guard checks speech in ``language`` (a BCP-47 code): the model is English."""
    return language.lower().startswith("en")


class Embeds(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class MenuVectors:
    """One menu's phrase vectors, grouped by intent, and its "elsewhere" rows."""

    phrases: np.ndarray
    groups: dict[str, np.ndarray]
    elsewhere: np.ndarray


def decide(ranked: list[tuple[float, str]], elsewhere: float, lexical: Match,
           m: Matching) -> Match:
    """The rule of the module docstring. ``ranked``: (cosine, intent), best first, vetoed
    intents left out; ``elsewhere``: the best "not this menu" cosine."""
    if not ranked:
        return Match(OTHER, OTHER) if lexical.kind in ("intent", "confirm") else lexical
    if lexical.kind in ("intent", "confirm"):
        mine = next((s for s, n in ranked if n == lexical.intent), -1.0)
        if elsewhere - mine >= m.meaning_veto:
            return Match(OTHER, OTHER, round(mine, 4), lexical.intent)
        if mine - elsewhere >= m.meaning_margin:
            return lexical
        return Match("confirm", lexical.intent, round(mine, 4), ranked[0][1])
    top, name = ranked[0]
    lead = top - max(ranked[1][0] if len(ranked) > 1 else -1.0, elsewhere)
    if top >= m.meaning_sure and lead >= m.meaning_margin:
        return Match("confirm", name, round(top, 4))
    return lexical


def load_bank(path: Path = BANK_VECTORS) -> np.ndarray:
    """The shipped "not this menu" vectors (float32, L2-normalised rows)."""
    bank: np.ndarray = np.load(path).astype(np.float32)
    norms: np.ndarray = np.maximum(np.linalg.norm(bank, axis=1, keepdims=True), 1e-9)
    normalised: np.ndarray = bank / norms
    return normalised


class MeaningGuard:
    """:class:`ivr.runtime.meaning.Meaning` on an embedder and the bank."""

    def __init__(self, embedder: Embeds, bank: np.ndarray) -> None:
        self._embedder = embedder
        self._bank = bank
        self._menus = LRU[tuple[Intent, ...], MenuVectors](MENUS_KEPT)
        self._words = LRU[str, np.ndarray](WORDS_KEPT)

    def check(self, text: str, intents: tuple[Intent, ...], lexical: Match,
              matching: Matching, language: str) -> Match:
        if not understands(language):
            return lexical
        ranked, elsewhere = self.scores(text, intents)
        return decide(ranked, elsewhere, lexical, matching)

    def scores(self, text: str, intents: tuple[Intent, ...]) -> tuple[
            list[tuple[float, str]], float]:
        """(cosine, intent) best first without vetoed intents; the best "elsewhere"."""
        menu = self.menu(intents)
        vec = self.vector(text)
        sims = menu.phrases @ vec
        veto = vetoed(text, intents)
        ranked = sorted(((float(sims[rows].max()), name) for name, rows in menu.groups.items()
                         if name not in veto), reverse=True)
        elsewhere = float((menu.elsewhere @ vec).max()) if len(menu.elsewhere) else -1.0
        return ranked, elsewhere

    def forget(self) -> None:
        """Drop the utterance vectors kept (each is embedded afresh next time)."""
        self._words.clear()

    def vector(self, text: str) -> np.ndarray:
        """``text``'s vector (callers repeat themselves: the last WORDS_KEPT are kept)."""
        hit = self._words.get(text)
        if hit is None:
            hit = self._words.add(text, self._embedder.embed([text])[0])
        return hit

    def menu(self, intents: tuple[Intent, ...]) -> MenuVectors:
        """The menu's vectors (computed on first use, then kept; LRU of MENUS_KEPT)."""
        hit = self._menus.get(intents)
        if hit is None:
            hit = self._menus.add(intents, self._build(intents))
        return hit

    def _build(self, intents: tuple[Intent, ...]) -> MenuVectors:
        pairs = [(p, i.name) for i in intents if i.name != OTHER for p in i.phrases]
        labels = np.array([name for _, name in pairs])
        phrases = self._embedder.embed([p for p, _ in pairs]) if pairs \
            else np.zeros((0, self._bank.shape[1]), dtype=np.float32)
        groups = {name: np.flatnonzero(labels == name) for name in dict.fromkeys(labels)}
        near = (self._bank @ phrases.T).max(axis=1) if len(pairs) else np.zeros(len(self._bank))
        own = [p for i in intents if i.name == OTHER for p in i.phrases]
        elsewhere = self._bank[near < BANK_OVERLAP]
        if own:  # the flow's own "not this menu" examples: its other intent's phrases
            elsewhere = np.vstack([elsewhere, self._embedder.embed(own)])
        return MenuVectors(phrases, groups, elsewhere)
