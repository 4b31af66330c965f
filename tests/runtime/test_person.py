"""Reaching a person: the promise at the callback offer, the voicemail prompt and after."""

from __future__ import annotations

import pytest

from ivr.flowlang.machine import END, OFFER, Compiled
from ivr.runtime.actions import Action, Dial, Gather, Hangup, Job, Record, Redirect, spoken
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event
from ivr.runtime.prompts import whisper
from tests.conftest import OPEN

CALLER = "+12125551234"


def at_offer(c: Compiled, caller: str = CALLER) -> CallState:
    state, _ = step(c, CallState("CA1", c.flow.id, c.flow.version, caller=caller),
                    Event.start(OPEN))
    state, _ = step(c, state, Event.press("0", OPEN))
    state, _ = step(c, state, Event.dialled("no-answer", OPEN))
    return state


def said(actions: list[Action]) -> str:
    return " ".join(spoken(actions))


@pytest.mark.parametrize("event", [Event.press("0", OPEN), Event.speech("agent", .9, OPEN),
                                   Event.speech("put me through to a real person", .8, OPEN)])
def test_a_human_key_or_phrase_at_the_offer_rings_the_person_again(
        cards: Compiled, event: Event) -> None:
    state = at_offer(cards)
    assert state.state == OFFER
    state, actions = step(cards, state, event)
    assert state.state == "human" and isinstance(actions[-1], Dial) and not state.ended
    assert "saved" not in said(actions)


@pytest.mark.parametrize("digits", ["2", "9", "*", "#", "12"])
def test_other_keys_at_the_offer_lead_to_voicemail_not_a_hang_up(cards: Compiled,
                                                                 digits: str) -> None:
    state, actions = step(cards, at_offer(cards), Event.press(digits, OPEN))
    assert state.state == "after_hours_voicemail" and not state.ended
    assert any(isinstance(a, Record) for a in actions) and "saved" not in said(actions)
    assert not any(isinstance(a, Hangup) for a in actions)


def test_saved_only_after_a_recording_with_a_duration(cards: Compiled) -> None:
    state, _ = step(cards, at_offer(cards), Event.silence(OPEN))
    for event in (Event.recorded("", 0, OPEN), Event.recorded("https://r/1", 0, OPEN)):
        before = state
        state, actions = step(cards, before, event)
        if state.ended:
            break
        assert "saved" not in said(actions).lower() and isinstance(actions[-2], Record)
    assert state.ended and state.outcome == "callback" and "saved" not in said(actions)
    callback = next(a for a in actions if isinstance(a, Job) and a.kind == "callback")
    assert callback.payload["number"] == CALLER and callback.payload["recording"] == ""


def test_a_real_message_is_saved(cards: Compiled) -> None:
    state, _ = step(cards, at_offer(cards), Event.silence(OPEN))
    state, actions = step(cards, state, Event.recorded("https://r/1", 12, OPEN))
    assert state.outcome == "voicemail" and state.ended and state.state == END
    assert "message is saved" in said(actions)


def test_a_withheld_number_never_hears_the_offer_nor_a_false_saved(cards: Compiled) -> None:
    state = at_offer(cards, caller="")
    assert state.state == "after_hours_voicemail" and "press 1" not in " ".join(state.path)
    state, _ = step(cards, state, Event.silence(OPEN))            # Twilio: no audio
    state, actions = step(cards, state, Event.silence(OPEN))
    assert state.ended and state.outcome == "no-message" and "saved" not in said(actions)


def test_zero_during_the_voicemail_prompt_reaches_the_person(cards: Compiled) -> None:
    state, actions = step(cards, at_offer(cards), Event.silence(OPEN))
    prompt = actions[0]
    assert isinstance(prompt, Gather) and prompt.fallthrough and isinstance(actions[-1],
                                                                             Redirect)
    state, actions = step(cards, state, Event.press("0", OPEN))
    assert state.state == "human" and isinstance(actions[-1], Dial)


def test_a_late_dial_result_at_the_offer_asks_again(cards: Compiled) -> None:
    state = at_offer(cards)
    state, actions = step(cards, state, Event.dialled("busy", OPEN))
    assert state.state == OFFER and "press 1" in said(actions)


def test_the_whisper_carries_only_xml_characters(cards: Compiled) -> None:
    call = CallState("CA1", cards.flow.id, cards.flow.version, reason="lost\x0bcard\x00 \ud800")
    assert whisper(call, cards.flow).count("lostcard") == 1


@pytest.mark.parametrize("said", ["five four three two one", "54321", "my pin is 5 4 3 2 1"])
def test_a_pin_said_aloud_is_accepted_and_never_kept(cards: Compiled, said: str) -> None:
    from ivr.runtime.record import turn_record

    state, _ = step(cards, CallState("CA1", cards.flow.id, cards.flow.version),
                    Event.start(OPEN))
    state, _ = step(cards, state, Event.press("2", OPEN))            # balance: the PIN
    assert state.state == "balance"
    event = Event.speech(said, .9, OPEN)
    after, actions = step(cards, state, event)
    assert after.state == "balance_result"
    line = turn_record(cards, state, event, after, actions)
    kept = repr(line) + repr(after.to_dict())
    assert "54321" not in kept and "five four" not in kept and "5 4 3" not in kept
    assert line["heard"] == {"kind": "speech", "text": "*****", "confidence": 0.9}


def test_the_persons_phone_leg_is_noted_and_changes_nothing_the_caller_hears(
        cards: Compiled) -> None:
    call, actions = step(cards, CallState("CA1", "card-services", "v"), Event.start(OPEN))
    menu = call
    call, actions = step(cards, call, Event.press("0", OPEN))
    assert call.state == "human" and any(isinstance(a, Dial) for a in actions)
    call, actions = step(cards, call, Event.leg("ringing", 0, OPEN))
    assert actions == [] and call.state == "human" and call.progress == f"{call.leg}:ringing"
    call, actions = step(cards, call, Event.leg("answered", 0, OPEN))
    assert actions == [] and call.picked_up == OPEN.isoformat()
    again, actions = step(cards, call, Event.leg("ringing", 0, OPEN))  # late: not news
    assert actions == [] and again.progress == call.progress
    # anywhere but while a person is rung, a leg report is not news: nothing at all changes
    later, actions = step(cards, menu, Event.leg("answered", 0, OPEN))
    assert actions == [] and later.state == menu.state and not later.picked_up
