"""The meaning guard of ``semantic_matching: true`` with the real MiniLM model.

The model is re-quantised once per test session into a temporary cache
(ivr/semantic/fast.py); ``ivr[semantic]`` is part of the test extra, so CI runs these."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")

from ivr.flowlang.catalog import Catalog  # noqa: E402
from ivr.flowlang.model import Flow, Intent, Matching, State  # noqa: E402
from ivr.runtime.matcher import Match, match  # noqa: E402
from ivr.runtime.meaning import second_opinion  # noqa: E402
from ivr.semantic import Embedder, fast  # noqa: E402
from ivr.semantic.guard import MeaningGuard, decide, load_bank  # noqa: E402
from ivr.semantic.load import load_guard  # noqa: E402

M = Matching()


@pytest.fixture(scope="session")
def guard(model_cache: Path) -> MeaningGuard:
    return load_guard(model_cache)[0]


@pytest.fixture(scope="session")
def cards(catalog: Catalog) -> tuple[Flow, State]:
    c = catalog.get("card-services")
    assert c is not None
    return c.flow, c.flow.states["main_menu"]


def decision(guard: MeaningGuard, cards: tuple[Flow, State], text: str) -> Match:
    flow, menu = cards
    lexical = match(text, menu.intents, flow.human.phrases, flow.matching, None,
                    flow.human.keys)
    return second_opinion(guard, text, menu.intents, lexical, flow.matching, "en-US")


# --- the rule, on scores (no model) --------------------------------------------------------

def test_a_lexical_intent_is_kept_when_it_is_clearly_nearer_than_not_this_menu() -> None:
    lexical = Match("intent", "balance", 0.9)
    assert decide([(0.9, "balance"), (0.5, "payment")], 0.4, lexical, M) == lexical


def test_a_lexical_intent_nearer_to_not_this_menu_becomes_other() -> None:
    m = decide([(0.5, "balance")], 0.7, Match("intent", "balance", 0.9), M)
    assert (m.kind, m.intent, m.runner_up) == ("other", "other", "balance")


def test_in_between_the_caller_is_asked() -> None:
    m = decide([(0.76, "balance")], 0.73, Match("intent", "balance", 0.9), M)
    assert (m.kind, m.intent) == ("confirm", "balance")


def test_a_lexical_other_is_only_ever_asked_about_when_meaning_is_sure() -> None:
    other = Match("other", "other", 0.1)
    assert decide([(0.9, "dispute"), (0.5, "payment")], 0.3, other, M).kind == "confirm"
    assert decide([(0.6, "dispute")], 0.3, other, M) == other  # not sure enough
    assert decide([(0.9, "dispute"), (0.85, "payment")], 0.3, other, M) == other  # no lead


def test_a_vetoed_intent_is_not_proposed() -> None:
    assert decide([], 0.3, Match("intent", "lost_card", 0.9), M).kind == "other"


def test_thresholds_come_from_the_flow() -> None:
    lexical = Match("intent", "balance", 0.9)
    strict = Matching(meaning_margin=0.5)
    assert decide([(0.9, "balance")], 0.5, lexical, M) == lexical
    assert decide([(0.9, "balance")], 0.5, lexical, strict).kind == "confirm"


# --- the real model ------------------------------------------------------------------------

@pytest.mark.parametrize("text,intent", [
    ("I lost my card", "lost_card"), ("my card was stolen", "lost_card"),
    ("there's a charge I don't recognize", "dispute"), ("what's my balance", "balance"),
    ("when is my payment due", "payment")])
def test_plain_requests_still_route_unasked(guard: MeaningGuard, cards: tuple[Flow, State],
                                            text: str, intent: str) -> None:
    m = decision(guard, cards, text)
    assert (m.kind, m.intent) == ("intent", intent)


@pytest.mark.parametrize("text", ["book me a flight to Paris", "can you tell me a joke",
                                  "what's the weather like", "I'd like to play a song",
                                  "I found somebody's credit card on the sidewalk"])
def test_requests_from_elsewhere_stay_other(guard: MeaningGuard, cards: tuple[Flow, State],
                                            text: str) -> None:
    assert decision(guard, cards, text).kind == "other"


def test_one_distinctive_word_in_an_unrelated_question_is_not_routed_unasked(
        guard: MeaningGuard, cards: tuple[Flow, State]) -> None:
    flow, menu = cards
    text = "how much do I owe in taxes"
    lexical = match(text, menu.intents, flow.human.phrases, flow.matching)
    assert (lexical.kind, lexical.intent) == ("intent", "balance")  # the words alone
    assert decision(guard, cards, text).kind in ("confirm", "other")


def test_a_person_is_never_second_guessed(guard: MeaningGuard,
                                          cards: tuple[Flow, State]) -> None:
    for text in ("agent", "I don't want to talk to a machine", "put me through to someone"):
        assert decision(guard, cards, text).kind == "human"


def test_other_languages_keep_the_lexical_decision(guard: MeaningGuard) -> None:
    menu = (Intent("balance", "balance", ("2",), ("saldo",)),)
    lexical = Match("intent", "balance", 0.9)
    assert guard.check("¿cuál es mi saldo?", menu, lexical, M, "es-US") == lexical


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "x" * 10_000, "я потерял карту",
                                  "我的卡丢了", "\x00\ud800", "card " * 3000])
def test_bad_speech_gets_a_decision_in_time(guard: MeaningGuard, cards: tuple[Flow, State],
                                            text: str) -> None:
    began = time.perf_counter()
    m = decision(guard, cards, text)
    assert m.kind in ("intent", "confirm", "other", "none", "human")
    assert time.perf_counter() - began < 0.5


def test_menu_vectors_are_computed_once_and_bounded(guard: MeaningGuard,
                                                    cards: tuple[Flow, State]) -> None:
    _, menu = cards
    first = guard.menu(menu.intents)
    assert guard.menu(menu.intents) is first
    changed = (*menu.intents[:-1], Intent("other", "other", ("9",), ("none of these",)))
    assert guard.menu(changed) is not first  # a new version's phrases: new vectors


def test_the_cpu_model_is_built_once_and_agrees_with_the_wheel(model_cache: Path) -> None:
    path = fast.fast_model(model_cache)
    stamp = path.stat().st_mtime_ns
    assert fast.fast_model(model_cache) == path and path.stat().st_mtime_ns == stamp
    texts = ["I lost my card", "what's my balance", "book a table for two tonight"]
    quick, wheel = Embedder(path).embed(texts), Embedder().embed(texts)
    assert float((quick * wheel).sum(axis=1).min()) > 0.97


def test_the_bank_is_normalised_and_matches_its_texts() -> None:
    from ivr.semantic.guard import BANK_TEXTS

    bank = load_bank()
    texts = BANK_TEXTS.read_text(encoding="utf-8").splitlines()
    assert bank.shape == (len(texts), 384) and len(texts) >= 1000
    assert np.allclose(np.linalg.norm(bank, axis=1), 1.0, atol=1e-3)


def test_without_the_cpu_model_the_wheels_model_is_used_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache directory should be")
    with caplog.at_level(logging.WARNING):
        guard, how = load_guard(blocked)
    assert "wheel" in how and "could not be built" in caplog.text
    assert guard.vector("I lost my card").shape == (384,)


def test_building_the_cpu_model_leaves_the_root_logger_alone(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers, filters = list(root.handlers), list(root.filters)
    fast.fast_model(tmp_path)
    assert root.handlers == handlers and root.filters == filters  # no basicConfig()


def test_the_flows_other_phrases_teach_it_what_is_not_for_this_menu(
        guard: MeaningGuard, cards: tuple[Flow, State]) -> None:
    flow, menu = cards
    text = "I'd like a new credit card"  # applying for one: not activating it
    taught = tuple(i if i.name != "other" else
                   Intent("other", "other", i.keys, (*i.phrases, "apply for a credit card"))
                   for i in menu.intents)
    lexical = match(text, menu.intents, flow.human.phrases, flow.matching)
    assert (lexical.kind, lexical.intent) == ("intent", "activate")
    assert guard.check(text, menu.intents, lexical, flow.matching, "en-US") == lexical
    assert guard.check(text, taught, lexical, flow.matching, "en-US").kind in ("confirm", "other")
    assert guard.check("can I apply for a credit card with you", taught, lexical, flow.matching,
                       "en-US").kind == "other"
