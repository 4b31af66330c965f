"""The promise over signed webhooks, as Twilio drives a call (issue 13's black-box cases)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from ivr.server.context import store_of
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport

OPEN = datetime(2026, 11, 24, 19, 5, tzinfo=UTC)  # a Tuesday, 14:05 in New York


@pytest.fixture
def app(redis_url: str) -> Flask:
    return make_app(redis_url, clock=OPEN.isoformat())


def busy(app: Flask) -> TwilioCaller:
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    c.press("0")
    assert c.verbs[-1] == "Dial"
    c.answered("busy")
    assert "press 1" in c.spoken and c.verbs == ["Gather", "Redirect"]
    return c


@pytest.mark.redis
@pytest.mark.parametrize("answer", ["0", "agent"])
def test_zero_or_agent_at_the_callback_offer_rings_the_person(app: Flask, answer: str) -> None:
    c = busy(app)
    c.press(answer) if answer.isdigit() else c.say(answer)
    assert c.verbs[-1] == "Dial" and "saved" not in c.spoken and "Hangup" not in c.verbs
    c.answered("completed")
    call = store_of(app).load(c.sid)
    assert call is not None and call.outcome == "human" and call.ended


@pytest.mark.redis
@pytest.mark.parametrize("key", ["2", "9", "*"])
def test_other_keys_at_the_offer_ask_for_a_message(app: Flask, key: str) -> None:
    c = busy(app)
    c.press(key)
    assert c.verbs == ["Gather", "Record", "Redirect"] and "saved" not in c.spoken
    c.post(c.redirect_url(), c.params())            # Twilio found no audio: the redirect
    assert "didn't get a message" in c.spoken and "saved" not in c.spoken
    c.record(duration=7)
    assert "message is saved" in c.spoken and c.verbs[-1] == "Hangup"


@pytest.mark.redis
def test_the_call_back_at_the_offer(app: Flask) -> None:
    c = busy(app)
    c.press("1")
    assert "call you back at this number" in c.spoken and c.verbs[-1] == "Hangup"
    call = store_of(app).load(c.sid)
    assert call is not None and call.outcome == "callback"
    transcript = store_of(app).transcript(c.sid)
    assert [t["to"] for t in transcript][-3:] == ["human", "__callback_offer__", "__end__"]


@pytest.mark.redis
def test_a_message_recorded_as_the_caller_hangs_up_is_not_lost(app: Flask) -> None:
    c = busy(app)
    c.silence()                                   # no call back: leave a message
    assert "Record" in c.verbs
    record_action = c.action("Record")
    c.hangup()                                    # the status callback wins the race
    call = store_of(app).load(c.sid)
    assert call is not None and call.ended and call.outcome == "human"
    c.post(record_action, c.params(RecordingUrl="https://api.twilio.com/rec/RE7",
                                   RecordingDuration="11"))
    call = store_of(app).load(c.sid)
    assert call is not None and call.outcome == "voicemail"
    transcript = store_of(app).transcript(c.sid)
    assert transcript[-1]["heard"]["kind"] == "recording"
    again = c.post(record_action, c.params(RecordingUrl="https://api.twilio.com/rec/RE7",
                                           RecordingDuration="11"))
    assert again.status == 200 and len(store_of(app).transcript(c.sid)) == len(transcript)
