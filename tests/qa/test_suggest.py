"""The suggested edit for a group of inbox utterances (ivr.qa.suggest)."""

from __future__ import annotations

from pathlib import Path

from ivr.flowlang.catalog import check_file, check_text
from ivr.flowlang.model import Flow
from ivr.qa.suggest import AGREE, fell_through, intent_name, named, phrases_of, suggest
from tests.flowlang.test_edit import SMALL

ROOT = Path(__file__).resolve().parents[2]
STRICT = SMALL.replace("states:", "matching: {threshold: 0.95, margin: 0.05, "
                                  "confirm_below: 0.97}\nstates:", 1)
"""A menu that routes only when sure: "my bill looks wrong" scores 0.84 for billing, so it
falls through with billing as the runner-up."""
BILL = ["my bill looks wrong this month", "question about the bill I got",
        "the paper bill went to my old address"]
OPEN = ["when are you open", "are you open on sunday", "what time do you open tomorrow"]


def flow(text: str) -> Flow:
    f = check_text(text).flow
    assert f is not None
    return f


def test_the_runner_up_named_for_most_of_a_group_is_the_intent_to_teach() -> None:
    f = flow(STRICT)
    menu = f.states["menu"]
    assert [named(f, menu, t) for t in BILL] == ["billing"] * 3
    s = suggest(f, menu, BILL)
    assert (s.kind, s.state, s.intent, s.votes) == ("add", "menu", "billing", 3)
    assert s.phrases == tuple(sorted(BILL, key=len))
    assert s.text.startswith('add these phrases to intent billing in menu: "question about')


def test_no_majority_or_no_decent_runner_up_is_a_new_intent() -> None:
    f = flow(STRICT)
    menu = f.states["menu"]
    assert suggest(f, menu, BILL[:1] + OPEN[:2]).kind == "new"  # 1 of 3: not enough
    s = suggest(f, menu, OPEN)
    assert (s.kind, s.votes) == ("new", 0)
    assert s.intent == "open_time" and s.text.startswith("a new intent open_time in menu")


def test_an_intent_the_matcher_already_routes_to_gets_no_vote() -> None:
    f = flow(SMALL)  # the default thresholds: these now route (or ask) to billing
    assert [named(f, f.states["menu"], t) for t in BILL] == ["", "", ""]


def test_intent_names_are_key_words_and_unique() -> None:
    found = ["I found somebody's card on the sidewalk", "found a card on the street",
             "I found a wallet"]
    assert intent_name(found) == "found_card"
    assert intent_name(found, taken=["found_card"]) == "found_card_2"
    assert intent_name(found, known=["lost my card"]) == "found_card"
    assert intent_name(["uh um", "???"]) == "new_intent"
    assert intent_name(["2024 taxes 1099"]) == "taxes"


def test_phrases_are_short_distinct_and_never_redacted() -> None:
    said = ["I found a card.", "i found a card", "my [card number] is it", "found a card",
            "a story " * 20, "I found a card", " "]
    assert phrases_of(said) == ("I found a card", "found a card")


def test_the_menu_an_item_fell_through() -> None:
    card = check_file(str(ROOT / "flows" / "card-services.yaml")).flow
    assert card is not None
    walk = ["welcome", "check_hours", "main_menu", "other"]
    assert fell_through(card, "other", walk).name == "main_menu"  # type: ignore[union-attr]
    late = ["welcome", "check_hours", "after_hours", "other"]
    assert fell_through(card, "other", late).name == "after_hours"  # type: ignore[union-attr]
    assert fell_through(card, "main_menu").name == "main_menu"  # type: ignore[union-attr]
    assert fell_through(card, "other") is None  # several menus lead there: unknown
    assert fell_through(flow(SMALL), "nowhere") is None


def test_an_intent_named_only_by_a_shared_word_is_not_taught_when_meaning_disagrees() -> None:
    f = flow(STRICT)
    menu = f.states["menu"]
    seen: list[tuple[list[str], list[str]]] = []

    def far(texts: list[str], phrases: list[str]) -> float:
        seen.append((texts, phrases))
        return AGREE - 0.01

    assert suggest(f, menu, BILL, similar=far).kind == "new"
    assert seen == [(BILL, ["billing", "pay my bill"])]
    assert suggest(f, menu, BILL, similar=lambda t, p: AGREE).kind == "add"
