"""What callers said, grouped by meaning: the inbox's ``ivr inbox --top`` and the what-if
report's "landed in other" (``ivr replay --what-if``) both group with :func:`top`.

:func:`without_fillers` drops case, punctuation and filler words; :func:`top` then
clusters greedily with rapidfuzz's ``token_set_ratio``, so ops see "found someone's
card: 37" and know which intent to add next. Grouping is for people reading; the
matcher's own word analysis (:mod:`ivr.runtime.words`: stems, negation) is a different
job and is not used here. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

THRESHOLD = 80
EXAMPLES = 3
_FILLER = frozenset("""a an the i i'm im um uh er erm hmm like so well just please yeah yes hi
hello hey okay ok oh and to my me is it was of for on in at uhm""".split())


def without_fillers(text: str) -> str:
    """Lower case, no punctuation, no filler words: 'Um, I FOUND a card!' → 'found card'
    (all fillers: kept as said, so every utterance has a group)."""
    words = re.sub(r"[^\w\s'\[\]]", " ", text.lower()).replace("'s ", "s ").split()
    kept = [w.strip("'") for w in words if w.strip("'") not in _FILLER]
    return " ".join(kept) or " ".join(words)


@dataclass
class Group:
    """Utterances that say the same thing: a representative phrase and how many said it."""

    phrase: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


def top(utterances: Iterable[str], threshold: int = THRESHOLD) -> list[Group]:
    """Group similar utterances, biggest group first.

    Greedy: distinct phrases (:func:`without_fillers`) are taken most frequent first; each joins the
    existing group whose representative it matches best with ``token_set_ratio`` ≥
    ``threshold``, or starts a new group (and becomes its representative).
    """
    originals: dict[str, Counter[str]] = {}
    for text in utterances:
        if text and text.strip():
            originals.setdefault(without_fillers(text), Counter())[text.strip()] += 1
    order = sorted(originals, key=lambda k: (-sum(originals[k].values()), k))
    reps: list[str] = []
    groups: list[Group] = []
    for norm in order:
        hit = process.extractOne(norm, reps, scorer=fuzz.token_set_ratio,
                                 score_cutoff=threshold) if reps else None
        if hit is None:
            reps.append(norm)
            groups.append(Group(originals[norm].most_common(1)[0][0]))
            group = groups[-1]
        else:
            group = groups[hit[2]]
        group.count += sum(originals[norm].values())
        for text, _ in originals[norm].most_common():
            if len(group.examples) < EXAMPLES and text not in group.examples:
                group.examples.append(text)
    return sorted(groups, key=lambda g: (-g.count, g.phrase))
