"""Speech → intent: a score for each intent, and a decision (intent, confirm, other, human).

The matcher is pure and small on purpose; the engine depends only on :func:`match` and
:class:`Match`. Scores are 0..1. How it decides (see ``docs/matching.md``):

1. Normalise: case, punctuation, contractions ("can't" → "can not"), fillers ("um", "you
   know"), digits as words, a small stemmer ("stolen" → "steal"), and negation marking
   ("not my card" → ``not_card``) so that "no agent needed" is not a request for an agent.
2. Human requests ("agent", "let me talk to somebody") win over everything.
3. "None of these", "something else", "neither" go to ``other``; so does a ``not`` phrase
   that vetoes every plausible intent (the found-card caller).
4. Each intent scores its best example phrase: the IDF-weighted share of the phrase's words
   the caller said (fuzzy, via rapidfuzz, for ASR slips), damped by how much of what the
   caller said the intent explains. Words shared by many intents ("card") weigh little.
5. The ASR confidence scales the score; then ``matching.threshold``, ``margin`` and
   ``confirm_below`` decide between other, confirm and intent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import jellyfish
from rapidfuzz import fuzz, process

from ivr.flowlang.model import HUMAN, OTHER, Intent, Matching
from ivr.runtime.words import (
    PAST_TENSE,
    SPOKEN_KEYS,
    Words,
    analyse,
    in_order,
    needle,
    stem,
)

FUZZY_CUTOFF = 85.0
PHONETIC_CUTOFF = 75.0
"""How alike (rapidfuzz ratio of metaphone keys) a spelling-fuzzy word must also sound."""
COVERAGE_WEIGHT = 0.25
"""How much unexplained speech ("car insurance" next to "pay") lowers a score."""
UNKNOWN_WEIGHT = 0.6
"""Weight of a word no intent knows, as a share of the rarest known word's weight."""
ROUTE_COVERAGE = 0.55
"""An intent that explains less than this share of what the caller said, from at most
:data:`FEW_WORDS` of their words, is asked about, never routed to unasked: one or two
distinctive words in an unrelated sentence ("activate my wireless hotspot")."""
FEW_WORDS = 2
KEYWORD_WEIGHT = 0.7
"""Score of one word found only in this intent's phrases ("dispute"), before coverage."""

_HUMAN_STRONG = ("agent", "operator", "representative", "human", "receptionist", "supervisor",
                 "manager", "live person", "real person", "actual person", "customer service",
                 "somebody real", "someone real", "live agent", "human being",
                 # Spanish, heard before a caller picks the Spanish menu as well as after
                 "agente", "operador", "operadora", "representante", "asesor", "supervisor",
                 "una persona", "persona real", "ser humano")
_HUMAN_WEAK = frozenset({"person", "someone", "anyone", "human", "operator", "agent", "rep",
                         "persona", "alguien"})
_ALONE = frozenset({"real", "live", "actual", "now", "just", "una", "por", "favor"})
_REQUEST = frozenset({"talk", "speak", "chat", "connect", "transfer", "reach", "get", "give",
                      "want", "need", "put", "let", "through",
                      "hablar", "quiero", "necesito", "comuníqueme", "comuniqueme",
                      "comunicar", "comunicarme", "páseme", "paseme", "pasar", "hable"})
_MACHINE = frozenset(stem(w) for w in (
    "machine", "machines", "robot", "robots", "computer", "computers", "bot", "bots",
    "automated", "menu", "menus", "máquina", "maquina", "computadora", "grabación"))
"""What callers call us when they want out: "I don't want to talk to a machine"."""
_REFUSE = frozenset(stem(w) for w in ("stop", "hate", "tired", "sick", "refuse", "enough",
                                      "done", "quit"))
_KEY_VERBS = frozenset({"dial", "push", "hit", "key", "button", "marcar", "marque", "oprima",
                        "presionar", "presione", "opcion", "opción"})
_SPOKEN_ES = {"cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
              "seis": "6", "siete": "7", "ocho": "8", "nueve": "9"}
_POSSESSIVE = frozenset({"my", "his", "her", "our", "their", "mi", "su"})
_REQUEST_WINDOW = 4
_MACHINE_WINDOW = 6
"""A refusal ("don't", "refuse", "no more") counts this many words before "machine"."""
"""A request word ("talk", "put") counts this many words before "someone"."""
_NONE_PHRASES = ("none of these", "none of those", "none of them", "none of the above",
                 "something else", "something different", "not listed", "not on the list",
                 "neither of those", "neither of them", "different thing", "other thing",
                 "other option", "another thing", "none", "neither", "other", "else")


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
    said: bool = False
    """The caller said it outright (a key's name, "none of these"): no second opinion."""


# --- humans and "none of these" -----------------------------------------------------------

@lru_cache(maxsize=64)
def _human_needles(phrases: tuple[str, ...]) -> tuple[frozenset[str], tuple[tuple[str, ...], ...]]:
    """The flow's and the built-in human phrases: single words, and longer phrases."""
    needles = {n for n in (needle(p) for p in (*phrases, *_HUMAN_STRONG)) if n}
    return frozenset(n[0] for n in needles if len(n) == 1), tuple(n for n in needles if len(n) > 1)


@lru_cache(maxsize=4096)
def _is_human_word(word: str, singles: frozenset[str]) -> bool:
    """``word`` is one of ``singles``, or an ASR slip of one ("representive", "agente")."""
    if word in singles or len(word) < 4 or word.startswith("not_"):
        return word in singles
    return any(len(s) >= 5 and fuzz.ratio(word, s) >= FUZZY_CUTOFF for s in singles)


def wants_human(words: Words, phrases: tuple[str, ...], keys: tuple[str, ...] = ()) -> bool:
    """True when the caller asks for a person ("agent", "let me talk to somebody", "press
    zero" when 0 is a human key, "I don't want to talk to a machine"), not when they say
    they don't need one or mention one they spoke to before."""
    seq = words.seq
    singles, multis = _human_needles(phrases)
    hits = [i for i, w in enumerate(seq) if _is_human_word(w, singles)]
    hits += [end - 1 for end in (in_order(n, seq, gap=1) for n in multis) if end > 0]
    if any(not PAST_TENSE & set(seq[max(0, i - 4): i + 3]) and not _someone_of(seq, i)
           for i in hits):
        return True
    for i, word in enumerate(seq):
        if word in _HUMAN_WEAK and _REQUEST & set(seq[max(0, i - _REQUEST_WINDOW): i]):
            return True
    return (_spoken_human_key(words, keys) or _refuses_machine(seq) or
            (bool(set(seq) & _HUMAN_WEAK) and set(words.content) <= _HUMAN_WEAK | _ALONE))


def _someone_of(seq: tuple[str, ...], i: int) -> bool:
    """ "my manager lost her card": a person of the caller's, not a request for ours."""
    before = seq[max(0, i - _REQUEST_WINDOW): i]
    return bool(before) and before[-1] in _POSSESSIVE and not _REQUEST & set(before)


def _spoken_human_key(words: Words, keys: tuple[str, ...]) -> bool:
    """The caller said a human key ("zero", "press zero", "zero zero") instead of pressing it."""
    spoken = {w for w, d in (*SPOKEN_KEYS.items(), *_SPOKEN_ES.items()) if d in keys}
    said = set(words.content) - _KEY_VERBS
    return bool(said) and said <= spoken


def _refuses_machine(seq: tuple[str, ...]) -> bool:
    """ "I don't want to talk to a machine", "no more robots", "I hate this menu"."""
    for i, word in enumerate(seq):
        base = word.removeprefix("not_")
        if base not in _MACHINE:
            continue
        before = seq[max(0, i - _MACHINE_WINDOW): i]  # "I'm not a robot" is no refusal
        if any(w.startswith("not_") or w in _REFUSE for w in before):
            return True
    return False


@lru_cache(maxsize=64)
def _none_needles(phrases: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(n for n in {needle(p) for p in (*_NONE_PHRASES, *phrases)} if n)


def says_none(words: Words, extra: tuple[str, ...] = ()) -> bool:
    """True for "none of these", "something else", "neither" (a short answer or an opener)."""
    for phrase in _none_needles(extra):
        if len(phrase) > 1 and in_order(phrase, words.seq, gap=1) >= 0:
            return True
        if len(phrase) == 1 and phrase[0] in words.seq and (
                words.seq[0] == phrase[0] or set(words.content) <= {phrase[0]}):
            return True
    return False


# --- intents ------------------------------------------------------------------------------

_Phrase = tuple[tuple[str, ...], tuple[float, ...], float]
"""A phrase's content words, their weights, and the weights' sum."""


@dataclass
class _Index:
    """Everything about a menu's intents that does not depend on what the caller said."""

    names: tuple[str, ...]
    phrases: tuple[tuple[_Phrase, ...], ...]
    negatives: tuple[tuple[tuple[str, ...], ...], ...]
    vocab: dict[str, tuple[int, ...]]
    weight: dict[str, float]
    top_weight: float
    keys: dict[str, str]
    none_phrases: tuple[str, ...]
    vocab_list: tuple[str, ...] = ()
    fuzzy: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)


@lru_cache(maxsize=256)
def _index(intents: tuple[Intent, ...]) -> _Index:
    scored = [i for i in intents if i.name != OTHER]
    tokens = [[t for t in (analyse(p).content for p in i.phrases) if t] for i in scored]
    users: dict[str, set[int]] = {}
    for n, plist in enumerate(tokens):
        for token in {t for p in plist for t in p}:
            users.setdefault(token, set()).add(n)
    count = max(len(scored), 1)
    weight = {t: math.log(1 + count / len(u)) for t, u in users.items()}
    phrases = tuple(tuple((p, ws := tuple(weight[t] for t in p), sum(ws)) for p in plist)
                    for plist in tokens)
    return _Index(
        names=tuple(i.name for i in scored), phrases=phrases,
        negatives=tuple(tuple(n for n in map(needle, i.negatives) if n) for i in scored),
        vocab={t: tuple(sorted(u)) for t, u in users.items()}, weight=weight,
        top_weight=math.log(1 + count), keys={k: i.name for i in intents for k in i.keys},
        none_phrases=tuple(p for i in intents if i.name == OTHER for p in i.phrases),
        vocab_list=tuple(users))


def vetoed(text: str, intents: tuple[Intent, ...]) -> frozenset[str]:
    """The intents whose ``not:`` phrases ``text`` says ("I found a card": ``lost_card``),
    as the matcher vetoes them (the second opinion by meaning uses this too)."""
    idx = _index(tuple(intents))
    seq = analyse(text if isinstance(text, str) else "").seq
    return frozenset(name for name, negs in zip(idx.names, idx.negatives, strict=True)
                     if any(in_order(neg, seq) >= 0 for neg in negs))


def _similar(idx: _Index, token: str) -> tuple[tuple[str, float], ...]:
    """Vocabulary words that ``token`` stands for, with a similarity 0..1 (cached)."""
    if token in idx.vocab:
        return ((token, 1.0),)
    found = idx.fuzzy.get(token)
    if found is None:
        found = ()
        if len(token) >= 4 and not token.startswith("not_"):
            hits = process.extract(token, idx.vocab_list, scorer=fuzz.ratio,
                                   score_cutoff=FUZZY_CUTOFF, limit=3)
            found = tuple((str(h[0]), float(h[1]) / 100) for h in hits
                          if sounds_alike(token, str(h[0])))
        if len(idx.fuzzy) > 10_000:
            idx.fuzzy.clear()
        idx.fuzzy[token] = found
    return found


@lru_cache(maxsize=8192)
def _sound(word: str) -> str:
    return str(jellyfish.metaphone(word))


def sounds_alike(heard: str, known: str) -> bool:
    """True when a spelling-fuzzy pair is also close by sound (metaphone keys starting alike
    and ≥ 75% similar): the recogniser slips by sound, so "balence" is "balance" but "play"
    (PL) is not "pay" (P), nor "bill" "pill"."""
    a, b = _sound(heard), _sound(known)
    return bool(a) and bool(b) and a[0] == b[0] and fuzz.ratio(a, b) >= PHONETIC_CUTOFF


@dataclass
class _Evidence:
    """What the caller said, in terms of one menu's vocabulary."""

    said: dict[str, float] = field(default_factory=dict)
    explained: dict[int, float] = field(default_factory=dict)
    keyword: dict[int, float] = field(default_factory=dict)
    hits: dict[int, int] = field(default_factory=dict)
    """How many of the caller's words each intent knows."""
    total: float = 0.0


def _evidence(idx: _Index, words: Words) -> _Evidence:
    ev = _Evidence()
    for token in dict.fromkeys(words.content):
        similar = _similar(idx, token)
        if not similar and token.startswith("not_"):
            continue  # "no agent needed": what the caller does not want is no other need
        w = max((idx.weight[v] for v, _ in similar), default=UNKNOWN_WEIGHT * idx.top_weight)
        ev.total += w
        best: dict[int, float] = {}
        for vocab_word, sim in similar:
            ev.said[vocab_word] = max(ev.said.get(vocab_word, 0.0), sim)
            strength = sim * idx.weight[vocab_word] / idx.top_weight
            for n in idx.vocab[vocab_word]:
                best[n] = max(best.get(n, 0.0), sim)
                ev.keyword[n] = max(ev.keyword.get(n, 0.0), strength)
        for n, sim in best.items():
            ev.explained[n] = ev.explained.get(n, 0.0) + w * sim
            ev.hits[n] = ev.hits.get(n, 0) + 1
    return ev


def _scores(idx: _Index, words: Words) -> list[tuple[float, str, float]]:
    """(score, intent name, coverage), best first, for the intents the caller said something
    of and that none of their ``not`` phrases veto; coverage is the share of what the
    caller said that the intent explains."""
    ev = _evidence(idx, words)
    out: list[tuple[float, str, float]] = []
    for n in ev.explained:
        if any(in_order(neg, words.seq) >= 0 for neg in idx.negatives[n]):
            continue
        recall = max(sum(w * ev.said.get(t, 0.0) for t, w in zip(p, ws, strict=True)) / total
                     for p, ws, total in idx.phrases[n])
        best = max(recall, KEYWORD_WEIGHT * ev.keyword[n])
        coverage = ev.explained[n] / ev.total
        sure = coverage if ev.hits[n] <= FEW_WORDS else 1.0
        out.append((best * (1 - COVERAGE_WEIGHT * (1 - coverage)), idx.names[n], sure))
    out.sort(reverse=True)
    return out


def asr_confidence(confidence: object) -> float | None:
    """Twilio's ``Confidence`` as 0..1, or None when unknown (missing, not a number, out of
    range, or exactly 0.0, the recogniser's "not set" value)."""
    if isinstance(confidence, bool) or not isinstance(confidence, int | float | str):
        return None
    try:
        value = float(confidence)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 < value <= 1.0 else None


def _spoken_key(idx: _Index, words: Words) -> str:
    """The intent picked by saying its key ("two", "option 3"), or ""."""
    said = words.content[0] if len(words.content) == 1 else ""
    return idx.keys.get(SPOKEN_KEYS.get(said, ""), "")


def match(text: str, intents: tuple[Intent, ...], human_phrases: tuple[str, ...],
          matching: Matching, confidence: float | None = None,
          human_keys: tuple[str, ...] = ()) -> Match:
    """Decide what ``text`` asks for among ``intents`` (see :class:`Match`).

    Args:
        text: What the recogniser heard (any string; long ones are truncated).
        intents: The menu's intents; an intent named ``other`` is the "none of these" route.
        human_phrases: The flow's phrases for reaching a person (built-ins are added).
        matching: The flow's thresholds.
        confidence: Twilio's ASR ``Confidence``; anything outside (0, 1] counts as unknown.
        human_keys: The flow's keys for a person: saying one ("zero") asks for a person.

    Returns:
        The decision: human, intent, confirm, other, or none for empty speech.
    """
    words = analyse(text if isinstance(text, str) else "")
    if not words.seq:
        return Match("none")
    if wants_human(words, tuple(human_phrases), human_keys):
        return Match(HUMAN, score=1.0)
    idx = _index(tuple(intents))
    if says_none(words, idx.none_phrases):
        return Match(OTHER, OTHER, 1.0, said=True)
    key = _spoken_key(idx, words)
    if key:
        return Match("intent", key, 1.0, said=True)
    return _decide(_scores(idx, words), matching, confidence)


def _decide(scores: list[tuple[float, str, float]], matching: Matching,
            confidence: float | None) -> Match:
    if not scores or scores[0][0] <= 0.0:
        return Match(OTHER, OTHER, 0.0, scores[0][1] if scores else "")
    top, name, coverage = scores[0]
    second, runner, _ = scores[1] if len(scores) > 1 else (0.0, "", 0.0)
    asr = asr_confidence(confidence)
    score = top * (1.0 if asr is None else min(1.0, 0.6 + 0.5 * asr))
    if top >= matching.threshold:  # a poor recording asks "is that right?", never drops
        score = max(score, matching.threshold)
    score = round(score, 4)
    if score < matching.threshold or top - second < matching.margin:
        return Match(OTHER, OTHER, score, name)
    if score < matching.confirm_below or coverage < ROUTE_COVERAGE:
        return Match("confirm", name, score, runner)
    return Match("intent", name, score, runner)
