"""Caller utterances as words: normalised, stemmed and negation-marked (pure).

``analyse("I haven't got my card")`` gives the words the matcher scores: case, punctuation
and contractions folded ("haven't" → "have not"), fillers dropped ("um", "you know"),
digits as words, a small stemmer ("stolen" → "steal"), and negation marking ("not my card"
→ ``not_card``) so that "no agent needed" is not a request for an agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_CHARS = 600
"""Longer speech is truncated: nobody says more than this to a menu."""

_REWRITES = {"credit card": "card", "debit card": "card", "found out": "learned",
             "find out": "learn", "figure out": "learn", "you know": " ", "i mean": " ",
             "kind of": " ", "sort of": " ", "can't": "can not", "cannot": "can not",
             "won't": "will not", "ain't": "is not"}
_REWRITE = re.compile(r"\b(?:" + "|".join(_REWRITES) + r")\b")
_CONTRACTIONS = (("n't", " not"), ("'re", " are"), ("'m", " am"), ("'ve", " have"),
                 ("'ll", " will"), ("'d", " would"), ("'s", ""), ("s'", "s"))
_FILLER = re.compile(r"^(u+m+|u+h+|h+m+|e+r+m*|a+h+|m+|o+h+|like|okay|ok|yeah|yep|well|so|"
                     r"basically|actually|literally|anyway|right|alright|sorry|please)$")
_DIGITS = dict(zip("0123456789", "zero one two three four five six seven eight nine".split(),
                   strict=True))
SPOKEN_KEYS = {word: digit for digit, word in _DIGITS.items()}
_IRREGULAR = dict(pair.split(":") for pair in """
lost:lose losing:lose loses:lose misplaced:lose misplace:lose stolen:steal stole:steal
stealing:steal found:find finding:find paid:pay paying:pay payment:pay payments:pay owed:owe
owing:owe somebody:someone anybody:anyone everybody:everyone purse:wallet billing:bill
cancelled:cancel cancelling:cancel canceled:cancel canceling:cancel recognise:recognize
recognised:recognize appt:appointment meds:medication medicine:medication pills:medication
medicines:medication hurts:pain hurt:pain hurting:pain aches:pain ache:pain reps:rep
agents:agent people:person humans:human persons:person locked:locked declined:declined
""".split())
_NEGATORS = frozenset({"not", "never", "no", "nothing", "without"})
_HAVE_GET = frozenset({"got", "get", "getting", "gotten", "have", "has", "had"})
"""Verbs that take the negation themselves: "never got a refund" is about a refund (one
that did not come), not about something other than a refund."""
_STOP = frozenset("""
i me my mine myself we us our ours you your yours he him his she her hers it its they them
their theirs this that these those a an the and or but if of to for from in on at by with about
into onto as is am are was were be been being do does did doing have has had will would shall
should could can may might must just really very hi hello hey there here what which who whom
whose how when where why some any all thing things stuff want wanted wanna need needs needed
gonna trying try think thought guess call calling called today now still also too then than
get got getting go going went out up down one's someone anyone everyone something anything
please thanks thank ma'am sir yes oh option number press choice talked spoke spoken told said
again back else other able
""".split())
PAST_TENSE = frozenset({"talked", "spoke", "spoken", "told", "said"})
_SUFFIXES = ("ations", "ation", "ating", "ated", "ates", "ate", "ments", "ment", "ings", "ing",
             "ied", "ies", "ed", "es", "s", "ly")


@dataclass(frozen=True)
class Words:
    """A normalised utterance: ``seq`` keeps stop words (for phrases in order), ``content``
    keeps the words that carry meaning (stemmed, negated ones prefixed ``not_``)."""

    seq: tuple[str, ...]
    content: tuple[str, ...]


def stem(word: str) -> str:
    """A tiny, consistent English stemmer: "charged", "charges" and "charge" → "charg"."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 4 or not word.isalpha() or word in SPOKEN_KEYS:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ied", "ies") else "")
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def _clauses(text: str) -> list[list[str]]:
    text = " " + text[:MAX_CHARS].lower().replace("’", "'").replace("`", "'") + " "
    text = _REWRITE.sub(lambda m: _REWRITES[m.group()], text)
    for old, new in _CONTRACTIONS:
        text = text.replace(old, new)
    parts = re.split(r"[.,;:!?\u2026]+|\s-+\s", text)
    return [re.findall(r"[^\W_]+(?:'[^\W_]+)?", p) for p in parts]


@lru_cache(maxsize=256)
def analyse(text: str) -> Words:
    """Normalise ``text`` (see the module docstring); safe on any string.

    Cached (the last few hundred utterances; ``Words`` is immutable): a speech turn in a
    menu analyses the same words twice, for the escape hatch and for the menu."""
    seq: list[str] = []
    content: list[str] = []
    for clause in _clauses(text):
        words = [_DIGITS.get(w, w) for w in clause if not _FILLER.match(w)]
        negate, skipped = False, ""
        for i, raw in enumerate(words):
            word = _IRREGULAR.get(raw, raw)
            if word in _NEGATORS:
                nxt = words[i + 1] if i + 1 < len(words) else ""
                negate = word != "no" or (bool(nxt) and nxt not in _STOP)
                continue
            if word in _STOP:
                if negate and word in _HAVE_GET:
                    seq.append(f"not_{word}")
                    negate, skipped = False, ""
                    continue
                seq.append(word)
                skipped = word if negate else ""
                continue
            token = ("not_" if negate else "") + stem(word)
            negate = False
            seq.append(token)
            content.append(token)
        if negate and skipped:
            seq[-1] = f"not_{skipped}"
    return Words(tuple(seq), tuple(content))


def needle(phrase: str) -> tuple[str, ...]:
    return tuple(w for w in analyse(phrase).seq if w not in ("a", "an", "the", "my", "to"))


def in_order(needle: tuple[str, ...], seq: tuple[str, ...], gap: int = 3) -> int:
    """Position just after ``needle`` in ``seq`` (each word within ``gap`` of the last), or -1."""
    if not needle or needle[0] not in seq:
        return -1
    for start, word in enumerate(seq):
        if word != needle[0]:
            continue
        pos, ok = start, True
        for want in needle[1:]:
            window = seq[pos + 1: pos + 2 + gap]
            if want not in window:
                ok = False
                break
            pos += 1 + window.index(want)
        if ok:
            return pos + 1
    return -1
