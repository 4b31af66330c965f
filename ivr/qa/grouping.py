"""What callers said, grouped: the inbox's ``ivr inbox --top`` and the what-if report's
"landed in other" (``ivr replay --what-if``).

Two ways, one :class:`Group`:

- :func:`by_meaning` clusters sentence embeddings by cosine similarity, so different
  wordings of one need ("I found somebody's card on the sidewalk", "picked up a card
  someone dropped") form one group. The vectors come from an ``embed`` function the
  caller passes (:mod:`ivr.qa.meaning` wraps the optional MiniLM model): this module
  never loads a model.
- :func:`top` is the lexical fallback: :func:`without_fillers` drops case, punctuation
  and filler words, then a greedy pass with rapidfuzz's ``token_set_ratio`` joins
  spellings of the same words.

Grouping is for people reading; the matcher's own word analysis (:mod:`ivr.runtime.words`:
stems, negation) is a different job and is not used here. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

THRESHOLD = 80
MEANING_THRESHOLD = 0.4
"""Average cosine similarity (MiniLM vectors) at which two groups merge. Chosen on
tests/data/inbox_paraphrases.yaml (the sweep in docs/matching.md, "Inbox groups"): the
lowest threshold that keeps groups ~98% pure, because a mixed group would draft phrases
into the wrong intent; lower ones join more wordings but mix needs."""
MOST = 800
"""Distinct phrases clustered by meaning (the most frequent); the rest are grouped lexically."""
Embed = Callable[[list[str]], Any]
"""Texts → one L2-normalised vector per text (an ``(n, d)`` array or a list of rows)."""
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
    members: list[int] = field(default_factory=list, repr=False)
    """Where the group's utterances are in the input (indexes), for what the caller does next
    (the inbox: which menu they fell through, the phrases of a draft edit)."""


def _distinct(utterances: Iterable[str]) -> dict[str, tuple[Counter[str], list[int]]]:
    """Normalised text → (the originals said, where they are), for non-blank input."""
    out: dict[str, tuple[Counter[str], list[int]]] = {}
    for n, text in enumerate(utterances):
        if text and text.strip():
            said, where = out.setdefault(without_fillers(text), (Counter(), []))
            said[text.strip()] += 1
            where.append(n)
    return out


def _by_size(distinct: dict[str, tuple[Counter[str], list[int]]]) -> list[str]:
    return sorted(distinct, key=lambda k: (-len(distinct[k][1]), k))


def _join(group: Group, said: Counter[str], where: list[int]) -> None:
    group.count += len(where)
    group.members.extend(where)
    for text, _ in said.most_common():
        if len(group.examples) < EXAMPLES and text not in group.examples:
            group.examples.append(text)


def _sorted(groups: list[Group]) -> list[Group]:
    for g in groups:
        g.members.sort()
    return sorted(groups, key=lambda g: (-g.count, g.phrase))


def top(utterances: Iterable[str], threshold: int = THRESHOLD) -> list[Group]:
    """Group similar spellings, biggest group first (the lexical way).

    Greedy: distinct phrases (:func:`without_fillers`) are taken most frequent first; each joins the
    existing group whose representative it matches best with ``token_set_ratio`` ≥
    ``threshold``, or starts a new group (and becomes its representative).
    """
    distinct = _distinct(utterances)
    reps: list[str] = []
    groups: list[Group] = []
    for norm in _by_size(distinct):
        said, where = distinct[norm]
        hit = process.extractOne(norm, reps, scorer=fuzz.token_set_ratio,
                                 score_cutoff=threshold) if reps else None
        if hit is None:
            reps.append(norm)
            groups.append(Group(said.most_common(1)[0][0]))
        _join(groups[-1] if hit is None else groups[hit[2]], said, where)
    return _sorted(groups)


def by_meaning(utterances: Sequence[str], embed: Embed,
               threshold: float = MEANING_THRESHOLD) -> list[Group]:
    """Group utterances that mean the same thing, biggest group first.

    Agglomerative, average linkage: every distinct phrase starts alone; the two groups
    whose members are most similar on average (cosine, weighted by how often each was
    said) merge, while that average is ≥ ``threshold``. The :data:`MOST` most frequent
    distinct phrases are clustered; the rest, and utterances with no usable vector (emoji
    only: a zero vector), are grouped by the lexical :func:`top`.

    Args:
        utterances: What callers said (blank ones are left out).
        embed: Texts → L2-normalised vectors (:data:`Embed`).
        threshold: Average cosine similarity to merge (:data:`MEANING_THRESHOLD`).
    """
    import numpy as np  # the semantic extra's: only here, where vectors exist

    distinct = _distinct(utterances)
    order = _by_size(distinct)[:MOST]
    if not order:
        return []
    vectors = np.asarray(embed([distinct[k][0].most_common(1)[0][0] for k in order]),
                         dtype=np.float64).reshape(len(order), -1)
    usable = [n for n, v in enumerate(vectors) if np.any(v)]
    members = _average_linkage(vectors[usable], [len(distinct[order[n]][1]) for n in usable],
                               threshold)
    groups = []
    for cluster in members:
        keys = [order[usable[n]] for n in _typical_first(vectors[[usable[n] for n in cluster]],
                                                          cluster)]
        groups.append(Group(distinct[keys[0]][0].most_common(1)[0][0]))
        for key in keys:
            _join(groups[-1], *distinct[key])
    placed = {m for g in groups for m in g.members}
    rest = [n for n, text in enumerate(utterances) if n not in placed and text and text.strip()]
    for g in top(utterances[n] for n in rest):
        groups.append(Group(g.phrase, g.count, g.examples, [rest[m] for m in g.members]))
    return _sorted(groups)


def _typical_first(vectors: Any, cluster: list[int]) -> list[int]:
    """``cluster`` with its most typical member first (the highest mean similarity to the
    others; on ties, the most said: rows are by frequency), the rest as they were."""
    if len(cluster) < 3:
        return cluster
    mean = (vectors @ vectors.T).sum(axis=1)
    best = max(range(len(cluster)), key=lambda n: (round(float(mean[n]), 6), -n))
    return [cluster[best]] + [c for n, c in enumerate(cluster) if n != best]


def _average_linkage(vectors: Any, weights: list[int], threshold: float) -> list[list[int]]:
    """Clusters (row indexes, the heaviest first in each) of unit ``vectors``."""
    import numpy as np

    n = len(weights)
    sim = vectors @ vectors.T if n else np.zeros((0, 0))
    np.fill_diagonal(sim, -np.inf)
    size = np.array(weights, dtype=np.float64)
    clusters = [[i] for i in range(n)]
    while n > 1:
        a, b = divmod(int(np.argmax(sim)), len(weights))
        if sim[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)  # rows are by frequency: keep the heavier's index
        sim[a] = (sim[a] * size[a] + sim[b] * size[b]) / (size[a] + size[b])
        sim[:, a] = sim[a]
        sim[a, a] = -np.inf
        sim[b, :] = sim[:, b] = -np.inf
        size[a] += size[b]
        clusters[a] += clusters[b]
        clusters[b] = []
        n -= 1
    return [c for c in clusters if c]
