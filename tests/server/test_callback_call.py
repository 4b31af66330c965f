"""The callback we place reaches a person at once, with the earlier call's context."""

from __future__ import annotations

import uuid

import pytest

from tests.server.test_web import make_app
from tests.twilio_caller import CALLER, TwilioCaller, flask_transport, sign

pytestmark = pytest.mark.redis
LINE = "+18005550100"


def callback_start(client: object, earlier: str) -> tuple[str, str]:
    """Twilio requesting our Voice URL for the outbound call: From is us, To the caller."""
    url = f"http://localhost/voice/card-services?callback={earlier}"
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": LINE, "To": CALLER,
              "CallStatus": "in-progress", "Direction": "outbound-api"}
    r = client.post(url, data=params,  # type: ignore[attr-defined]
                    headers={"X-Twilio-Signature": sign(url, params)})
    return params["CallSid"], r.get_data(as_text=True)


def test_callback_goes_straight_to_a_person_with_the_earlier_words(redis_url: str) -> None:
    client = make_app(redis_url).test_client()
    first = TwilioCaller(flask_transport(client))
    first.dial("card-services")
    first.say("I found somebody's credit card on the sidewalk", confidence=0.9)
    first.say("I'd like to return it", confidence=0.9)
    sid, twiml = callback_start(client, first.sid)
    assert "returning your call" in twiml and "<Dial" in twiml
    url = f"http://localhost/voice/card-services/whisper?sid={sid}"
    r = client.post(url, data={}, headers={"X-Twilio-Signature": sign(url, {})})
    text = r.get_data(as_text=True)
    assert "Callback you promised" in text and "found somebody's credit card" in text


def test_callback_after_the_state_expired_still_reaches_a_person(redis_url: str) -> None:
    client = make_app(redis_url).test_client()
    _, twiml = callback_start(client, "CA" + "0" * 32)
    assert "<Dial" in twiml and "returning your call" in twiml
