"""The engine's second opinion on menu speech (ivr.runtime.meaning): what it may change.

The checkers here are small rule objects with the Meaning interface (no model: the real
guard is tested in tests/semantic with MiniLM); what is tested is the engine's side: when
it asks, what it accepts back, and that a failing checker leaves the lexical decision."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ivr.flowlang.machine import Compiled
from ivr.flowlang.model import Intent, Matching
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event
from ivr.runtime.matcher import Match
from ivr.runtime.meaning import second_opinion
from ivr.runtime.work import Options
from tests.conftest import OPEN

MENU = (Intent("balance", "balance", ("1",), ("balance",)),
        Intent("other", "other", ("9",), ("something else",)))


@dataclass
class Says:
    """Answers ``decision`` (or raises ``error``) and remembers what it was asked."""

    decision: Match = field(default_factory=lambda: Match("other", "other"))
    error: Exception | None = None
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    def check(self, text: str, intents: tuple[Intent, ...], lexical: Match,
              matching: Matching, language: str) -> Match:
        self.asked.append((text, lexical.kind, language))
        if self.error is not None:
            raise self.error
        return self.decision


def opinion(checker: Says | None, lexical: Match) -> Match:
    return second_opinion(checker, "my balance", MENU, lexical, Matching(), "en-US")


@pytest.mark.parametrize("lexical", [Match("human", score=1.0), Match("none"),
                                     Match("other", "other", 1.0, said=True),
                                     Match("intent", "balance", 1.0, said=True)])
def test_a_person_silence_a_spoken_key_and_none_of_these_are_never_second_guessed(
        lexical: Match) -> None:
    checker = Says(Match("confirm", "balance"))
    assert opinion(checker, lexical) == lexical
    assert checker.asked == []


@pytest.mark.parametrize("lexical", [Match("intent", "balance", 0.9),
                                     Match("confirm", "balance", 0.7),
                                     Match("other", "other", 0.2)])
def test_intents_confirmations_and_others_are_checked(lexical: Match) -> None:
    checker = Says(Match("confirm", "balance", 0.5))
    assert opinion(checker, lexical) == Match("confirm", "balance", 0.5)
    assert checker.asked == [("my balance", lexical.kind, "en-US")]


def test_a_failing_checker_leaves_the_lexical_decision() -> None:
    lexical = Match("intent", "balance", 0.9)
    assert opinion(Says(error=RuntimeError("model gone")), lexical) == lexical
    assert opinion(Says(error=MemoryError()), lexical) == lexical


@pytest.mark.parametrize("answer", [Match("intent", "transfer"), Match("human"),
                                    Match("none"), Match("confirm", "")])
def test_only_an_intent_of_this_menu_or_other_comes_back(answer: Match) -> None:
    lexical = Match("intent", "balance", 0.9)
    assert opinion(Says(answer), lexical) == lexical


def test_no_checker_is_the_lexical_matcher_alone() -> None:
    lexical = Match("intent", "balance", 0.9)
    assert opinion(None, lexical) is lexical


def test_the_engine_routes_by_the_second_opinion(cards: Compiled) -> None:
    call = CallState("CA1", cards.flow.id, cards.flow.version)
    call, _ = step(cards, call, Event.start(OPEN))
    heard = Event.speech("how much do I owe in taxes", 0.9, OPEN)
    checker = Says(Match("other", "other", 0.3, "balance"))
    after, _ = step(cards, call, heard, Options(meaning=checker))
    assert checker.asked and checker.asked[0][2] == "en-US"
    assert after.state == "other" and after.fell_through  # captured, then a person
    alone, _ = step(cards, call, heard)
    assert alone.state == "balance"  # the words alone route it, unasked


def test_the_engine_asks_in_the_callers_language(cards: Compiled) -> None:
    call = CallState("CA1", cards.flow.id, cards.flow.version, state="main_menu",
                     language="es-US")
    checker = Says(Match("intent", "balance", 0.9))
    step(cards, call, Event.speech("quiero saber mi saldo", 0.9, OPEN), Options(meaning=checker))
    assert checker.asked and checker.asked[0][2] == "es-US"
