"""How well and how fast the speech matcher routes callers: ``python bench/intents.py``.

Runs every labeled utterance in ``tests/data/utterances.yaml`` through
:func:`ivr.runtime.matcher.match` against the real flow menus, and prints, separately for the
``tune`` and ``holdout`` splits: accuracy (overall and per label), ``other`` and ``human``
precision/recall, the dangerous errors (a wrong intent chosen without asking), the
confirmations asked, and the confusion matrix. Then the matching speed for 10 and 200
intents. ``--errors`` lists the tune split's misroutes (holdout rows are never listed, so
tuning cannot peek at them).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ivr.flowlang.catalog import Catalog, load_dir  # noqa: E402
from ivr.flowlang.model import HUMAN, OTHER, Intent, Matching  # noqa: E402
from ivr.runtime.matcher import Match, match  # noqa: E402

DATA = ROOT / "tests" / "data" / "utterances.yaml"


@dataclass(frozen=True)
class Row:
    """One labeled utterance."""

    text: str
    flow: str
    state: str
    label: str
    split: str
    asr: float | None = None


@dataclass(frozen=True)
class Outcome:
    """A row and what the matcher decided for it."""

    row: Row
    match: Match

    @property
    def predicted(self) -> str:
        """The label the call ends up under: an intent name, ``other`` or ``human``."""
        if self.match.kind == HUMAN:
            return HUMAN
        if self.match.kind in ("intent", "confirm"):
            return self.match.intent
        return OTHER

    @property
    def correct(self) -> bool:
        """Routed where the label says (a confirmation of the right intent counts)."""
        return self.predicted == self.row.label

    @property
    def dangerous(self) -> bool:
        """A wrong intent chosen without asking (e.g. a found card sent to lost_card)."""
        return self.match.kind == "intent" and self.predicted != self.row.label


def load_rows(path: Path = DATA) -> list[Row]:
    """The labeled utterances."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Row(str(r["text"]), r["flow"], r["state"], r["label"], r["split"], r.get("asr"))
            for r in data["utterances"]]


def load_catalog() -> Catalog:
    """The example flows in ``flows/``."""
    catalog, _ = load_dir([str(ROOT / "flows")])
    return catalog


def evaluate(rows: list[Row], catalog: Catalog) -> list[Outcome]:
    """Match every row against its flow's menu."""
    out = []
    for row in rows:
        compiled = catalog.get(row.flow)
        if compiled is None:
            raise SystemExit(f"flow {row.flow!r} (used by {row.text!r}) is not in flows/")
        flow = compiled.flow
        state = flow.states[row.state]
        m = match(row.text, state.intents, flow.human.phrases, flow.matching, row.asr,
                  flow.human.keys)
        out.append(Outcome(row, m))
    return out


def _pr(outcomes: list[Outcome], label: str) -> tuple[float, float]:
    tp = sum(o.predicted == label and o.row.label == label for o in outcomes)
    said = sum(o.predicted == label for o in outcomes)
    real = sum(o.row.label == label for o in outcomes)
    return (tp / said if said else 1.0), (tp / real if real else 1.0)


def found_card_misroutes(outcomes: list[Outcome]) -> list[Outcome]:
    """Callers who found a card (label other, "found" said) sent to lost_card at all."""
    return [o for o in outcomes if o.row.label == OTHER and "found" in o.row.text.lower()
            and o.predicted == "lost_card"]


def summary(outcomes: list[Outcome]) -> dict[str, float]:
    """The headline figures for a list of outcomes."""
    n = len(outcomes) or 1
    other_p, other_r = _pr(outcomes, OTHER)
    human_p, human_r = _pr(outcomes, HUMAN)
    return {"n": len(outcomes), "accuracy": sum(o.correct for o in outcomes) / n,
            "other_precision": other_p, "other_recall": other_r,
            "human_precision": human_p, "human_recall": human_r,
            "wrong_intent": sum(o.dangerous for o in outcomes) / n,
            "confirm": sum(o.match.kind == "confirm" for o in outcomes) / n,
            "wrong_confirm": sum(o.match.kind == "confirm" and not o.correct
                                 for o in outcomes) / n,
            "found_card_to_lost_card": len(found_card_misroutes(outcomes))}


def _print_split(name: str, outcomes: list[Outcome]) -> None:
    s = summary(outcomes)
    print(f"\n== {name}: {s['n']} utterances ==")
    print(f"accuracy {s['accuracy']:.1%}   wrong intent chosen without asking "
          f"{s['wrong_intent']:.1%}   confirmation asked {s['confirm']:.1%} "
          f"(of a wrong intent {s['wrong_confirm']:.1%})")
    print(f"other precision {s['other_precision']:.1%} recall {s['other_recall']:.1%}   "
          f"human precision {s['human_precision']:.1%} recall {s['human_recall']:.1%}   "
          f"found card -> lost_card: {s['found_card_to_lost_card']}")
    labels = sorted({o.row.label for o in outcomes} | {o.predicted for o in outcomes})
    cells = Counter((o.row.label, o.predicted) for o in outcomes)
    width = max(len(x) for x in labels) + 1
    print("per label: " + "  ".join(
        f"{lab} {cells[lab, lab]}/{sum(o.row.label == lab for o in outcomes)}"
        for lab in labels if any(o.row.label == lab for o in outcomes)))
    print("confusion (rows: expected, columns: decided)")
    print(" " * width + " ".join(f"{lab[:7]:>7}" for lab in labels))
    for lab in labels:
        print(f"{lab:<{width}}" + " ".join(f"{cells[lab, p] or '.':>7}" for p in labels))


def synthetic_intents(count: int, seed: int = 7) -> tuple[Intent, ...]:
    """``count`` made-up intents with five three-word phrases each (for timing)."""
    rng = random.Random(seed)
    words = [f"{a}{b}" for a in ("bal", "pay", "car", "dis", "act", "ref", "app", "res", "lo")
             for b in ("ance", "ment", "d", "pute", "ivate", "ill", "oint", "ult", "st", "ter")]
    return tuple(Intent(f"intent{n}", "other", (), tuple(
        " ".join(rng.sample(words, 3)) for _ in range(5))) for n in range(count))


def speed(texts: list[str], count: int, rounds: int = 3) -> float:
    """Mean µs to match one utterance against ``count`` intents (caches warm)."""
    intents = synthetic_intents(count)
    matching = Matching()
    for text in texts:
        match(text, intents, ("agent",), matching, 0.9)
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            match(text, intents, ("agent",), matching, 0.9)
    return (time.perf_counter() - start) / (rounds * len(texts)) * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print the figures; ``--errors`` lists tune misroutes."""
    run(argv)
    return 0


def run(argv: list[str] | None = None) -> dict[str, object]:
    """What ``main`` prints, returned as figures (for ``python -m bench``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list misroutes (tune only)")
    args = parser.parse_args(argv)
    outcomes = evaluate(load_rows(), load_catalog())
    for split in ("tune", "holdout"):
        _print_split(split, [o for o in outcomes if o.row.split == split])
    texts = [o.row.text for o in outcomes]
    us10, us200 = speed(texts, 10), speed(texts, 200)
    print(f"\nspeed: {us10:.0f} µs per utterance with 10 intents, {us200:.0f} µs with 200 "
          "intents")
    if args.errors:
        print("\ntune misroutes (expected -> decided kind/intent score):")
        for o in outcomes:
            if o.row.split == "tune" and (not o.correct or o.match.kind == "confirm"):
                m = o.match
                print(f"  {o.row.label:>9} -> {m.kind}/{m.intent or '-'} {m.score:.2f} "
                      f"(runner-up {m.runner_up or '-'})  {o.row.text!r}")
    return {split: summary([o for o in outcomes if o.row.split == split])
            for split in ("tune", "holdout")} | {"us_per_utterance_10_intents": us10,
                                                 "us_per_utterance_200_intents": us200}


if __name__ == "__main__":
    raise SystemExit(main())
