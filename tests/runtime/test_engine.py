"""The engine drives whole calls with no I/O: the escape hatch in every state."""

from __future__ import annotations

import pytest

from ivr.flowlang.machine import END, OFFER, Compiled
from ivr.runtime.actions import Dial, Gather, Hangup, Job, Record, Redirect, spoken
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event, EventKind
from tests.conftest import CLOSED, OPEN


def call(c: Compiled, *events: Event) -> tuple[CallState, list[object]]:
    state = CallState("CA1", c.flow.id, c.flow.version)
    actions: list[object] = []
    for e in events:
        state, actions = step(c, state, e)
    return state, actions


def test_start_lands_on_menu_with_welcome_inside_gather(cards: Compiled) -> None:
    state, actions = call(cards, Event.start(OPEN))
    assert state.state == "main_menu"
    gather = actions[0]
    assert isinstance(gather, Gather)
    assert "press 0 at any time" in spoken(actions)[0]
    assert "0" not in [k for i in cards.flow.states["main_menu"].intents for k in i.keys]


@pytest.mark.parametrize("state_name", ["main_menu", "lost_card", "balance", "payment",
                                        "dispute", "activate", "anything_else", "other"])
def test_zero_reaches_human_from_every_waiting_state(cards: Compiled, state_name: str) -> None:
    state = CallState("CA1", cards.flow.id, "", state=state_name)
    state, actions = step(cards, state, Event.press("0", OPEN))
    assert state.state == "human"
    assert any(isinstance(a, Dial) for a in actions)


def test_agent_phrase_reaches_human(cards: Compiled) -> None:
    state, actions = call(cards, Event.start(OPEN), Event.speech("agent agent agent", 0.5, OPEN))
    assert state.state == "human" and isinstance(actions[-1], Dial)


def test_repeated_silence_ends_with_a_human_not_a_hangup(cards: Compiled) -> None:
    state, actions = call(cards, Event.start(OPEN), *[Event.silence(OPEN)] * 3)
    assert state.state == "human"
    assert not any(isinstance(a, Hangup) for a in actions)


def test_repeated_nonsense_ends_with_a_human(cards: Compiled) -> None:
    state, _ = call(cards, Event.start(OPEN), *[Event.press("7", OPEN)] * 3)
    assert state.state == "human"


def test_found_card_goes_to_other_then_human_with_whisper(cards: Compiled) -> None:
    state, actions = call(cards, Event.start(OPEN),
                          Event.speech("I found somebody's credit card on the sidewalk", .9, OPEN),
                          Event.speech("I want to give it back", .9, OPEN))
    assert "other" in state.path and state.state == "human"
    assert state.outcome == "other"
    dial = actions[-1]
    assert isinstance(dial, Dial) and "found somebody's credit card" in dial.whisper
    assert any(isinstance(a, Job) and a.kind == "inbox" for a in actions)


def test_no_answer_leads_to_voicemail_and_callback(cards: Compiled) -> None:
    state, actions = call(cards, Event.start(OPEN), Event.press("0", OPEN),
                          Event(EventKind.DIAL_RESULT, status="no-answer", now=OPEN))
    assert isinstance(actions[-2], Record) and isinstance(actions[-1], Redirect)
    state, actions = step(cards, state, Event(EventKind.RECORDING, url="https://r/1",
                                              duration=9, now=OPEN))
    assert state.outcome == "voicemail" and state.ended and state.state == END
    assert [a.kind for a in actions if isinstance(a, Job)] == ["callback", "call_end"]
    assert isinstance([a for a in actions if not isinstance(a, Job)][-1], Hangup)


def test_after_hours_human_goes_to_voicemail(cards: Compiled) -> None:
    state, actions = call(cards, Event.start(CLOSED), Event.press("0", CLOSED))
    assert state.state == "after_hours_voicemail" and isinstance(actions[-2], Record)


def test_sensitive_pin_never_stored(cards: Compiled) -> None:
    state, _ = call(cards, Event.start(OPEN), Event.press("2", OPEN), Event.press("54321", OPEN))
    assert "54321" not in repr(state.to_dict())
    assert state.state == "balance_result"


def test_spoken_card_number_is_redacted(cards: Compiled) -> None:
    state, _ = call(cards, Event.start(OPEN),
                    Event.speech("my card number is 4111 1111 1111 1111", .9, OPEN))
    assert "4111" not in repr(state.to_dict())


def test_ended_call_only_hangs_up(cards: Compiled) -> None:
    state, _ = call(cards, Event.start(OPEN), Event.press("2", OPEN), Event.press("12345", OPEN),
                    Event.press("3", OPEN))
    assert state.ended and state.outcome == "completed"
    state, actions = step(cards, state, Event.press("1", OPEN))
    assert actions == [Hangup()]


def test_inbox_gets_a_masked_number_and_the_callback_the_whole_one(cards: Compiled) -> None:
    state = CallState("CA2", cards.flow.id, "", caller="+15551234567")
    state, actions = step(cards, state, Event.start(OPEN))
    state, actions = step(cards, state, Event.speech("something else", .9, OPEN))
    state, actions = step(cards, state, Event.speech("I found a wallet", .9, OPEN))
    inbox = next(a for a in actions if isinstance(a, Job) and a.kind == "inbox")
    assert inbox.payload["caller"] == "+1******4567"
    state, _ = step(cards, state, Event(EventKind.DIAL_RESULT, status="busy", now=OPEN))
    state, _ = step(cards, state, Event.silence(OPEN))     # no call back: leave a message
    state, actions = step(cards, state, Event.recorded("u", 7, OPEN))
    callback = next(a for a in actions if isinstance(a, Job) and a.kind == "callback")
    assert callback.payload["caller"] == "+15551234567"


def test_unsure_match_without_confirm_line_is_asked_not_guessed(cards: Compiled) -> None:
    state = CallState("CA1", cards.flow.id, "", state="payment")
    state, actions = step(cards, state, Event.speech("the minimum please", 0.1, OPEN))
    assert state.state == "payment" and state.pending == "minimum"
    assert 'I think you said "minimum". Is that right?' in spoken(actions)[-1]
    state, _ = step(cards, state, Event.press("1", OPEN))
    assert "payment_confirmed" in state.path


def test_language_offer_switch_and_spanish_everywhere(cards: Compiled) -> None:
    state, actions = call(cards, Event.start(OPEN))
    gather = actions[0]
    assert isinstance(gather, Gather)
    offer = gather.prompts[-1]
    assert offer.text == "Para español, oprima 8." and offer.language == "es-US"  # type: ignore
    state, actions = step(cards, state, Event.press("8", OPEN))
    assert state.state == "main_menu" and state.language == "es-US"
    gather = actions[0]
    assert isinstance(gather, Gather) and gather.language == "es-US"
    assert "perdí mi tarjeta" in gather.hints and "agente" in gather.hints
    assert spoken(actions)[0].startswith("Si perdió su tarjeta")
    state, actions = step(cards, state, Event.silence(OPEN))
    assert spoken(actions)[0] == "Disculpe, no escuché nada."
    state, actions = step(cards, state, Event.speech("quiero hablar con un agente", .9, OPEN))
    assert state.state == "human" and "Le comunico" in spoken(actions)[-1]
    dial = actions[-1]
    assert isinstance(dial, Dial) and "es-US" in dial.whisper


def test_language_offer_only_at_the_first_prompt(cards: Compiled) -> None:
    state, _ = call(cards, Event.start(OPEN))
    state, actions = step(cards, state, Event.press("7", OPEN))
    assert "Para español" not in " ".join(spoken(actions))


def test_no_answer_offers_a_call_back_before_the_voicemail(cards: Compiled) -> None:
    state = CallState("CA3", cards.flow.id, "", caller="+12125551234")
    state, _ = step(cards, state, Event.start(OPEN))
    state, _ = step(cards, state, Event.press("0", OPEN))
    state, actions = step(cards, state, Event(EventKind.DIAL_RESULT, status="busy", now=OPEN))
    [offer] = actions
    assert isinstance(offer, Gather) and not offer.fallthrough and offer.num_digits == 1
    assert "press 1" in " ".join(spoken([offer])) and state.state == OFFER
    assert "agent" in offer.hints  # saying "agent" works at the offer too
    state, actions = step(cards, state, Event.press("1", OPEN))
    job = next(a for a in actions if isinstance(a, Job) and a.kind == "callback")
    assert job.payload["number"] == "+12125551234" and state.outcome == "callback"
    assert "call you back at this number" in spoken(actions)[-1] and state.ended


def test_no_call_back_offer_without_a_caller_number(cards: Compiled) -> None:
    state, _ = call(cards, Event.start(OPEN), Event.press("0", OPEN))
    state, actions = step(cards, state, Event(EventKind.DIAL_RESULT, status="busy", now=OPEN))
    assert "press 1" not in " ".join(spoken(actions)) and state.state == "after_hours_voicemail"


def test_the_inbox_keeps_what_was_said_at_the_menu_beside_the_capture(cards: Compiled) -> None:
    state, _ = call(cards, Event.start(OPEN),
                    Event.speech("I found somebody's credit card on the sidewalk", .9, OPEN))
    assert state.state == "other" and state.fell_through
    state, actions = step(cards, state, Event.speech("I want to give it back", .9, OPEN))
    inbox = next(a for a in actions if isinstance(a, Job) and a.kind == "inbox")
    assert inbox.payload["menu_said"] == "I found somebody's credit card on the sidewalk"
    assert inbox.payload["said"] == "I want to give it back"


def test_a_menu_left_by_key_has_no_menu_words(cards: Compiled) -> None:
    state, actions = call(cards, Event.start(OPEN), Event.press("9", OPEN),
                          Event.speech("a question about rewards", .9, OPEN))
    inbox = next(a for a in actions if isinstance(a, Job) and a.kind == "inbox")
    assert inbox.payload["menu_said"] == "" and inbox.payload["said"]
