"""What to do with a group of inbox utterances: which menu they fell through and the edit
that would catch them next time.

For a group, :func:`suggest` runs the engine's own lexical matcher
(:func:`ivr.runtime.matcher.match`) on each utterance against the menu it fell through (in
the flow's current version). The intent it most often names (as its runner-up with a
score of at least :data:`DECENT`, or outright) is the one to teach: "add these phrases to
intent X". When none does, the suggestion is a new intent named after the group's key
words (:func:`intent_name`). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ivr.flowlang.model import HUMAN, OTHER, Flow, Kind, State
from ivr.qa.grouping import without_fillers
from ivr.runtime.matcher import match
from ivr.runtime.words import stem

DECENT = 0.45
"""A runner-up scoring below this shares a word or two by chance ("card"): no vote."""
AGREE = 0.45
"""Cosine similarity (MiniLM) of a group's mean to the nearest phrase of the intent the
matcher names, below which the group is not that intent's: "update my mailing address" to
``activate`` 0.35, "what's my cash back balance" to ``balance`` 0.63."""
Similar = Callable[[list[str], list[str]], float]
MOST_PHRASES = 5
MAX_WORDS = 10
"""A phrase for the draft: at most this many words (a whole story is not a phrase)."""
_STOP = frozenset("""about after again all am any are as be been but by can could did do does
don't dont from get got had has have having he her here hers him his how if into isn't
its let me mine more most much need not now off one our out over own same she should some
someone somebody than that the their them then there these they this those through too
under until up very want wants was we were what when where which while who why will with
would you your someones somebodys anybodys everybodys it's i'd i'll i've i'm can't won't
didn't doesn't help like know""".split())


@dataclass(frozen=True)
class Suggestion:
    """An edit for a menu: ``kind`` "add" (phrases to ``intent``) or "new" (a new intent
    named ``intent``, going to a person), with the ``phrases`` to add."""

    flow: str
    state: str
    kind: str
    intent: str
    phrases: tuple[str, ...] = field(default_factory=tuple)
    votes: int = 0
    """How many of the group's utterances the matcher pointed at ``intent`` ("add")."""

    @property
    def text(self) -> str:
        """The suggestion in words."""
        said = ", ".join(f'"{p}"' for p in self.phrases[:3])
        if self.kind == "add":
            return f"add these phrases to intent {self.intent} in {self.state}: {said}"
        return f"a new intent {self.intent} in {self.state} (to a person): {said}"


def fell_through(flow: Flow, state: str, path: Sequence[str] = ()) -> State | None:
    """The menu an inbox item fell through: ``state`` itself when it is a menu, else the
    latest menu on the call's ``path`` before it whose ``other`` leads there, else the
    latest menu on the path, else the one menu whose ``other`` leads to ``state``."""
    here = flow.states.get(state)
    if here is not None and here.kind is Kind.MENU:
        return here
    menus = [flow.states[s] for s in reversed(list(path)) if s in flow.states
             and flow.states[s].kind is Kind.MENU]
    leads = [m for m in menus if any(i.goto == state for i in m.intents if i.name == OTHER)]
    if leads or menus:
        return (leads or menus)[0]
    into = [s for s in flow.states.values() if s.kind is Kind.MENU and
            any(i.name == OTHER and i.goto == state for i in s.intents)]
    return into[0] if len(into) == 1 else None


def named(flow: Flow, menu: State, text: str) -> str:
    """The intent the matcher names as runner-up for ``text`` at ``menu``, when it still
    sends the caller to other with a score of at least :data:`DECENT` ('' otherwise).

    Not an intent it routes to or asks about: a caller who got there and still reached
    the inbox said "no" to it (or it was added since), so it is not theirs to teach."""
    m = match(text, menu.intents, flow.human.phrases, flow.matching,
              human_keys=flow.human.keys)
    if m.kind == OTHER and m.score >= DECENT and m.runner_up not in ("", OTHER, HUMAN):
        return m.runner_up
    return ""


def phrases_of(texts: Sequence[str], most: int = MOST_PHRASES) -> tuple[str, ...]:
    """Short, distinct phrases from what callers said: most said first, then shortest;
    no redaction marks ("[card number]"), at most :data:`MAX_WORDS` words each."""
    said = Counter(" ".join(t.strip().rstrip(".!?,;").split()) for t in texts if t.strip())
    usable = [p for p in said if p and "[" not in p and len(p.split()) <= MAX_WORDS]
    usable.sort(key=lambda p: (-said[p], len(p), p))
    seen: set[str] = set()
    out = []
    for p in usable:
        if p.lower() not in seen:
            seen.add(p.lower())
            out.append(p)
    return tuple(out[:most])


def intent_name(texts: Sequence[str], taken: Sequence[str] = (),
                known: Sequence[str] = ()) -> str:
    """A new intent's name from the group's key words: the two content words said in most
    utterances (by stem; a word of the menu's own phrases, ``known``, counts half: it does
    not tell this need from the others), in the order said, unique among ``taken``."""
    seen_in: Counter[str] = Counter()
    shown: dict[str, Counter[str]] = {}
    first: dict[str, float] = {}
    for text in texts:
        words = [re.sub(r"[^a-z0-9]", "", w) for w in without_fillers(text).split()]
        words = [w for w in words if len(w) > 2 and w not in _STOP and not w.isdigit()]
        for n, w in enumerate(words):
            shown.setdefault(stem(w), Counter())[w] += 1
            first.setdefault(stem(w), n / max(1, len(words)))
        seen_in.update({stem(w) for w in words})
    plain = {stem(w) for p in known for w in without_fillers(p).split()}
    weight = {w: seen_in[w] * (0.5 if w in plain else 1.0) for w in seen_in}
    top = sorted(weight, key=lambda w: (-weight[w], first[w], w))[:2]
    top.sort(key=lambda w: first[w])
    base = "_".join(shown[w].most_common(1)[0][0] for w in top) or "new_intent"
    base = base if base[0].isalpha() else "n_" + base
    name, n = base, 2
    while name in taken or name in (OTHER, HUMAN):
        name, n = f"{base}_{n}", n + 1
    return name


def suggest(flow: Flow, menu: State, texts: Sequence[str],
            similar: Similar | None = None) -> Suggestion:
    """The edit for ``menu`` that would catch ``texts`` (one group's utterances).

    With ``similar`` (meaning: the group's texts, an intent's phrases → 0..1), an intent
    the matcher names only by a shared word is not taught: below :data:`AGREE` the
    suggestion is a new intent ("update my mailing address" is not ``activate``, though
    "new address" shares a word with "new card")."""
    votes = Counter(n for n in (named(flow, menu, t) for t in texts) if n)
    phrases = phrases_of(texts)
    if votes and votes.most_common(1)[0][1] * 2 > len(texts):
        intent, count = votes.most_common(1)[0]
        said = next(i.phrases for i in menu.intents if i.name == intent)
        if similar is None or similar(list(texts), list(said)) >= AGREE:
            return Suggestion(flow.id, menu.name, "add", intent, phrases, count)
    taken = [i.name for i in menu.intents]
    known = [p for i in menu.intents for p in i.phrases]
    return Suggestion(flow.id, menu.name, "new", intent_name(texts, taken, known), phrases)
