"""Lexical vs. semantic speech matching, measured: ``python bench/semantic.py``.

Four matchers on the same rows (docs/matching.md, "Semantic matching: measured"):

- ``lexical``: today's :func:`ivr.runtime.matcher.match`;
- ``cosine``: MiniLM embeddings, cosine to each intent's phrases (best phrase), thresholds;
- ``tfidf``: scikit-learn TF-IDF char n-grams + logistic regression per menu, with an
  ``other`` class trained on "not this menu" examples;
- ``guard``: the lexical decision, checked by the embeddings (:func:`guard`);
- ``combined``: nearest neighbour over embedded intent exemplars and "not this menu"
  exemplars (the margin to ``other`` is the out-of-menu detector), the flow's ``not:``
  vetoes, and agreement with the lexical matcher to skip the confirmation.

All four ask for a person lexically first (the lexical matcher's human detection), and
keep "none of these" and empty speech lexical. Rows: CLINC150 (banking + credit_cards
mapped to card-services' main menu, ``oos`` and the rest as ``other``; see MAPPING) and the
project's ``tests/data/utterances.yaml``. Thresholds and exemplars come from CLINC150
train (an 80/20 exemplar/calibration split) and the project ``tune`` split; figures are
reported on CLINC150 validation and the project ``holdout`` split. The ``day-one`` rows use
``tests/data/day_one_menu.yaml`` (6 phrases per intent, no tuning) instead of the flow.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.intents import Outcome, Row, load_catalog, load_rows, summary  # noqa: E402
from bench.semantic_rules import Thresholds, decide, guard, lexical_first  # noqa: E402
from ivr.flowlang.model import HUMAN, OTHER, Intent, Matching  # noqa: E402
from ivr.runtime.matcher import Match, match, vetoed  # noqa: E402
from ivr.runtime.meaning import CHECKED  # noqa: E402
from ivr.semantic.guard import MeaningGuard  # noqa: E402
from ivr.semantic.guard import decide as shipped_decide  # noqa: E402
from ivr.semantic.load import load_guard  # noqa: E402

CLINC = Path(os.environ.get("CLINC150_DIR", "/work/shared/data/clinc150"))
"""CLINC150 train + validation (``train.jsonl``, ``val.jsonl``, ``domains.json``)."""
DAY_ONE = ROOT / "tests" / "data" / "day_one_menu.yaml"
CARD_MENU = ("card-services", "main_menu")
MAPPING = {"report_lost_card": "lost_card", "credit_limit": "balance", "balance": "balance",
           "pay_bill": "payment", "min_payment": "payment", "bill_due": "payment",
           "report_fraud": "dispute"}
"""CLINC150 intents the card menu serves. ``new_card`` (applying for a card) is NOT
activate: it is ``other``, like every other banking/credit_cards intent and ``oos``."""
EXCLUDED = {"bill_balance", "spending_history", "transactions", "freeze_account"}
"""Arguable for a card line ("how much did I spend", "freeze my account"): left out."""
CARD_DOMAINS = ("banking", "credit_cards")


@dataclass(frozen=True)
class Menu:
    """One menu's intents (``other`` excluded) and its exemplars."""

    intents: tuple[Intent, ...]
    texts: tuple[str, ...]
    labels: tuple[str, ...]


def clinc_rows(split: str) -> tuple[list[Row], list[str]]:
    """Card-menu rows from CLINC150 ``train`` or ``val``, and the other domains' texts."""
    domains = json.loads((CLINC / "domains.json").read_text())
    card = {i for d in CARD_DOMAINS for i in domains[d]}
    rows, elsewhere = [], []
    for line in (CLINC / f"{split}.jsonl").read_text().splitlines():
        doc = json.loads(line)
        intent = doc["intent"]
        if intent in EXCLUDED:
            continue
        if intent in card or intent == "oos":
            rows.append(Row(doc["text"], *CARD_MENU, MAPPING.get(intent, OTHER), split))
        else:
            elsewhere.append(doc["text"])
    return rows, elsewhere


def day_one_intents() -> tuple[Intent, ...]:
    doc = yaml.safe_load(DAY_ONE.read_text())
    return tuple(Intent(name, name, tuple(v.get("keys", ())), tuple(v["phrases"]))
                 for name, v in doc["intents"].items())


# --- the matchers ------------------------------------------------------------------------

Matcher = Callable[[str, Menu], tuple[list[tuple[float, str]], float]]
"""(ranked intents, best "not this menu" score) for a text against a menu."""


class Vectors:
    """Embeddings, cached by text (each text is embedded once per run)."""

    def __init__(self) -> None:
        from ivr.semantic import Embedder

        began = time.perf_counter()
        self.embedder = Embedder()
        self.load_seconds = time.perf_counter() - began
        self.cache: dict[str, np.ndarray] = {}
        self.menus: dict[tuple[int, bool], tuple[np.ndarray, dict[str, np.ndarray]]] = {}

    def of(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        for text, vec in zip(todo, self.embedder.embed(todo), strict=True):
            self.cache[text] = vec
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384))

    def menu(self, menu: Menu, use_other: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The menu's exemplar matrix and each label's rows (computed once per menu)."""
        key = (id(menu), use_other)
        if key not in self.menus:
            keep = [n for n, lab in enumerate(menu.labels) if use_other or lab != OTHER]
            labels = np.array([menu.labels[n] for n in keep])
            self.menus[key] = (self.of([menu.texts[n] for n in keep]),
                               {lab: np.flatnonzero(labels == lab) for lab in set(labels)})
        return self.menus[key]


def cosine_scores(vectors: Vectors, menu: Menu, text: str, use_other: bool) -> tuple[
        list[tuple[float, str]], float]:
    """Best cosine per label; ``use_other``: also to the "not this menu" exemplars."""
    matrix, groups = vectors.menu(menu, use_other)
    sims = matrix @ vectors.of([text])[0]
    best = {lab: float(sims[idx].max()) for lab, idx in groups.items()}
    other = best.pop(OTHER, -1.0)
    veto = vetoed(text, menu.intents)
    ranked = sorted(((s, n) for n, s in best.items() if n not in veto), reverse=True)
    return ranked, other


class Tfidf:
    """A TF-IDF char n-gram logistic regression per menu (fitted once per menu)."""

    def __init__(self) -> None:
        self.models: dict[int, object] = {}

    def scores(self, menu: Menu, text: str) -> tuple[list[tuple[float, str]], float]:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        model = self.models.get(id(menu))
        if model is None:
            model = make_pipeline(
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced"))
            model.fit(list(menu.texts), list(menu.labels))
            self.models[id(menu)] = model
        probs = model.predict_proba([text])[0]  # type: ignore[attr-defined]
        best = dict(zip(model.classes_, probs.tolist(), strict=True))  # type: ignore[attr-defined]
        other = best.pop(OTHER, 0.0)
        veto = vetoed(text, menu.intents)
        return sorted(((s, n) for n, s in best.items() if n not in veto), reverse=True), other


# --- menus, runs, thresholds ------------------------------------------------------------

class Setup:
    """The menus of every row, in the tuned and the day-one version."""

    def __init__(self, seed: int = 15) -> None:
        self.catalog = load_catalog()
        train, elsewhere = clinc_rows("train")
        rng = random.Random(seed)
        rng.shuffle(train)
        cut = len(train) * 4 // 5
        self.exemplars, self.calibration = train[:cut], train[cut:]
        self.val, _ = clinc_rows("val")
        self.project = load_rows()
        self.generic = tuple(rng.sample(elsewhere, 1500))
        """ "Not this menu" for any menu: CLINC150's other eight domains (train)."""
        self.menus: dict[tuple[str, str, bool], Menu] = {}

    def flow_menu(self, flow: str, state: str) -> tuple[tuple[Intent, ...], Matching,
                                                        tuple[str, ...], tuple[str, ...]]:
        compiled = self.catalog.get(flow)
        assert compiled is not None, flow
        f = compiled.flow
        return f.states[state].intents, f.matching, f.human.phrases, f.human.keys

    def menu(self, flow: str, state: str, day_one: bool) -> Menu:
        key = (flow, state, day_one)
        if key not in self.menus:
            intents = day_one_intents() if day_one else self.flow_menu(flow, state)[0]
            pairs = [(p, i.name) for i in intents if i.name != OTHER for p in i.phrases]
            pairs += [(t, OTHER) for t in self.generic]
            if (flow, state) == CARD_MENU and not day_one:  # what CLINC train teaches
                pairs += [(r.text, r.label) for r in self.exemplars]
            self.menus[key] = Menu(intents, tuple(p[0] for p in pairs),
                                   tuple(p[1] for p in pairs))
        return self.menus[key]


Parts = tuple[list[tuple[float, str]], float, Match | None]


def shipped() -> MeaningGuard:
    """The engine's guard as ``semantic_matching: true`` loads it (the CPU model, the bank;
    once per process)."""
    return load_guard(Path(os.environ.get("IVR_MODEL_CACHE", "var/models")))[0]


def prepare(method: str, setup: Setup, row: Row, day_one: bool, vectors: Vectors | None,
            tfidf: Tfidf) -> Match | Parts:
    """A final decision (lexical, a person, none of these), or the scores to decide on."""
    _, matching, human, keys = setup.flow_menu(row.flow, row.state)
    menu = setup.menu(row.flow, row.state, day_one)
    lexical = match(row.text, menu.intents, human, matching, row.asr, keys)
    if method == "lexical":
        return lexical
    if method == "shipped":  # the engine's guard: second_opinion = these scores + decide
        if lexical.said or lexical.kind not in CHECKED:
            return lexical
        return (*shipped().scores(row.text, menu.intents), lexical)
    first = lexical_first(row.text, menu.intents, human, keys)
    if first is not None:
        return first
    if method == "tfidf":
        ranked, other = tfidf.scores(menu, row.text)
        return ranked, other, None
    assert vectors is not None
    if method == "cosine":
        return cosine_scores(vectors, menu, row.text, use_other=False)[0], -1.0, None
    ranked, other = cosine_scores(vectors, menu, row.text, use_other=True)
    return ranked, other, lexical  # combined, guard


def finish(parts: Match | Parts, t: Thresholds | None, method: str = "") -> Match:
    if isinstance(parts, Match):
        return parts
    assert t is not None
    ranked, other, lexical = parts
    if method == "shipped" and lexical is not None:
        return shipped_decide(ranked, other, lexical, Matching(
            meaning_veto=t.floor, meaning_margin=t.gap, meaning_sure=t.sure))
    if method == "guard" and lexical is not None:
        return guard(ranked, other, lexical, t)
    return decide(ranked, t, lexical, other)


def figures(outcomes: list[Outcome]) -> dict[str, float]:
    s = summary(outcomes)
    scoped = [o for o in outcomes if o.row.label not in (OTHER, HUMAN)]
    s["in_scope"] = sum(o.correct for o in scoped) / (len(scoped) or 1)
    return s


GRID = {"cosine": ([x / 100 for x in range(30, 86, 5)], [0.0, 0.02, 0.05, 0.08, 0.12]),
        "combined": ([x / 100 for x in range(30, 86, 5)], [0.0, 0.02, 0.05, 0.08, 0.12]),
        "guard": ([0.3], [x / 100 for x in range(0, 21, 2)]),
        "shipped": ([0.0, 0.05, 0.1, 0.15, 0.2], [x / 100 for x in range(0, 21, 2)]),
        "tfidf": ([x / 100 for x in range(10, 91, 5)], [0.0, 0.05, 0.1, 0.2, 0.3])}


def calibrate(method: str, setup: Setup, vectors: Vectors | None, tfidf: Tfidf) -> Thresholds:
    """The thresholds with the best accuracy whose wrong-intent rate is ≤ 1% on both
    calibration sets (CLINC train's 20% and the project tune split)."""
    sets = [setup.calibration, [r for r in setup.project if r.split == "tune"]]
    floors, gaps = GRID[method]
    best: tuple[float, Thresholds] = (-1.0, Thresholds(floors[-1], 1.0, gaps[-1]))
    prepared = [[(r, prepare(method, setup, r, False, vectors, tfidf)) for r in rows]
                for rows in sets]
    sures = GRID["combined"][0] if method in ("guard", "shipped") else floors
    for floor in floors:
        for sure in [s for s in sures if s >= floor] + [1.01]:
            for gap in gaps:
                t = Thresholds(floor, sure, gap)
                accs = []
                for rows in prepared:
                    f = figures([Outcome(r, finish(p, t, method)) for r, p in rows])
                    if f["wrong_intent"] > 0.01:
                        break
                    accs.append(f["accuracy"])
                else:
                    if sum(accs) > best[0]:
                        best = (sum(accs), t)
    return best[1]


METHODS = ("lexical", "cosine", "tfidf", "combined", "guard", "shipped")
REPORTS = ("clinc_val", "holdout", "day_one")


def report_rows(setup: Setup, name: str) -> tuple[list[Row], bool]:
    holdout = [r for r in setup.project if r.split == "holdout"]
    if name == "clinc_val":
        return setup.val, False
    if name == "holdout":
        return holdout, False
    return setup.val + [r for r in holdout if (r.flow, r.state) == CARD_MENU], True


def latency(setup: Setup, vectors: Vectors, t: Thresholds | None,
            method: str) -> dict[str, float]:
    """ms per utterance for ``method`` on the card menu (about 3,600 exemplars), the
    utterance embedded afresh each time (menu vectors are computed once per menu)."""
    times = []
    for row in setup.project:
        card = Row(row.text, *CARD_MENU, row.label, row.split, row.asr)
        vectors.cache.pop(row.text, None)
        if method == "shipped":
            shipped().forget()
        began = time.perf_counter()
        finish(prepare(method, setup, card, False, vectors, Tfidf()), t, method)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"p50_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99)]}


def _line(method: str, report: str, f: dict[str, float]) -> str:
    return (f"{method:<9} {report:<10} {f['n']:>5} {f['accuracy']:>6.1%} {f['in_scope']:>6.1%} "
            f"{f['wrong_intent']:>6.1%} {f['other_recall']:>6.1%} {f['other_precision']:>6.1%} "
            f"{f['human_recall']:>6.1%} {f['confirm']:>6.1%} {f['found_card_to_lost_card']:>3}")


def run(argv: list[str] | None = None) -> dict[str, object]:
    """Print the comparison; return its figures (for ``python -m bench``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args(argv)
    setup = Setup()
    began = time.perf_counter()
    vectors = Vectors()
    out: dict[str, object] = {"model_load_s": vectors.load_seconds}
    print(f"model load {vectors.load_seconds:.2f} s (process start to first vector: "
          f"{time.perf_counter() - began:.2f} s)")
    print("method    report         n    acc  inscope wrong  oth-R  oth-P  hum-R  confrm fc")
    for method in args.methods.split(","):
        tfidf = Tfidf()
        t = None if method == "lexical" else calibrate(method, setup, vectors, tfidf)
        out[f"{method}_thresholds"] = t.__dict__ if t else None
        for report in REPORTS:
            rows, day_one = report_rows(setup, report)
            outs = [Outcome(r, finish(prepare(method, setup, r, day_one, vectors, tfidf),
                                      t or Thresholds(0, 0, 0), method)) for r in rows]
            f = figures(outs)
            out[f"{method}/{report}"] = f
            print(_line(method, report, f), flush=True)
        if t:
            print(f"          thresholds (from train/tune): {t}")
        if method in ("combined", "guard", "shipped") and t:
            out[f"{method}_latency"] = lat = latency(setup, vectors, t, method)
            print(f"          latency p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms")
    return out


def main(argv: list[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
