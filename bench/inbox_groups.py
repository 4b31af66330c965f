"""How well the inbox groups different wordings of one need: lexical vs by meaning.

Reads tests/data/inbox_paraphrases.yaml (8 needs, 6 phone-style wordings each) and prints,
for the lexical grouping and for the MiniLM grouping at several thresholds: the number of
groups, purity (the share of utterances in a group whose biggest need is theirs) and how
many groups one need is split into (mean, and the worst). Figures in docs/matching.md.

    PYTHONPATH=. python3 -m bench.inbox_groups
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from ivr.qa.grouping import Group, by_meaning, top
from ivr.qa.meaning import embedder

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "inbox_paraphrases.yaml"


def labeled() -> tuple[list[str], list[str]]:
    """(utterances, their needs) from the labeled set."""
    data = yaml.safe_load(DATA.read_text())
    pairs = [(text, need) for need, texts in data.items() for text in texts]
    return [t for t, _ in pairs], [n for _, n in pairs]


def scores(groups: list[Group], needs: list[str]) -> dict[str, float]:
    """groups, purity, mean and worst groups per need."""
    pure = sum(Counter(needs[m] for m in g.members).most_common(1)[0][1] for g in groups)
    split = Counter(n for g in groups for n in {needs[m] for m in g.members})
    return {"groups": len(groups), "purity": pure / len(needs),
            "per_need": sum(split.values()) / len(split), "worst": max(split.values())}


def main() -> None:
    texts, needs = labeled()
    rows = [("lexical (token_set_ratio 80)", scores(top(texts), needs))]
    embed, why = embedder()
    if embed is None:
        print(f"no model ({why}): lexical only")
    else:
        for t in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
            rows.append((f"MiniLM cosine {t}", scores(by_meaning(texts, embed, t), needs)))
    print(f"{'grouping':30} groups  purity  groups/need  worst")
    for name, s in rows:
        print(f"{name:30} {s['groups']:6} {s['purity']:7.0%} {s['per_need']:12.2f} "
              f"{s['worst']:6}")


if __name__ == "__main__":
    main()
