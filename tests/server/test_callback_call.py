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


def _signed(client: object, url: str, params: dict[str, str]) -> str:
    r = client.post(url, data=params,  # type: ignore[attr-defined]
                    headers={"X-Twilio-Signature": sign(url, params)})
    assert r.status_code == 200, r.status_code
    text = str(r.get_data(as_text=True))
    r.close()  # as the server does once it is sent: the turn's jobs move to RQ
    return text


def _queued(redis_url: str) -> list[tuple[str, dict[str, object]]]:
    import redis
    from rq import Queue
    from rq.serializers import JSONSerializer

    from ivr.jobs.enqueue import JOB_QUEUE

    q = Queue(JOB_QUEUE, connection=redis.Redis.from_url(redis_url), serializer=JSONSerializer)
    return [(j.func_name, j.args[0]) for j in q.get_jobs()]


def test_a_machine_that_answers_gets_a_short_message_and_another_try(redis_url: str) -> None:
    client = make_app(redis_url).test_client()
    earlier = "CA" + "1" * 32
    url = f"http://localhost/voice/card-services?callback={earlier}&attempt=2"
    twiml = _signed(client, url, {"CallSid": "CA" + uuid.uuid4().hex, "From": LINE,
                                  "To": CALLER, "CallStatus": "in-progress",
                                  "AnsweredBy": "machine_end_beep"})
    assert "this is the call back you asked for" in twiml and "<Hangup" in twiml
    assert "<Dial" not in twiml  # nobody's phone rings for a machine
    retries = [a for f, a in _queued(redis_url) if f.endswith("retry_callback")]
    assert retries and retries[0]["callback"] == earlier and retries[0]["attempt"] == 2
    assert retries[0]["number"] == CALLER and retries[0]["why"] == "machine"


def test_a_callback_nobody_answers_is_tried_again(redis_url: str) -> None:
    client = make_app(redis_url).test_client()
    earlier = "CA" + "2" * 32
    url = (f"http://localhost/voice/status?callback={earlier}&attempt=1"
           "&flow=card-services")
    for status in ("initiated", "ringing", "no-answer"):  # the progress events we ask for
        _signed(client, url, {"CallSid": "CA" + "3" * 32, "From": LINE, "To": CALLER,
                              "CallStatus": status})
    retries = [a for f, a in _queued(redis_url) if f.endswith("retry_callback")]
    assert len(retries) == 1 and retries[0]["why"] == "no-answer"
    assert (retries[0]["callback"], retries[0]["flow"], retries[0]["attempt"]) == \
        (earlier, "card-services", 1)


def test_a_person_answering_is_connected_as_before(redis_url: str) -> None:
    client = make_app(redis_url).test_client()
    url = f"http://localhost/voice/card-services?callback={'CA' + '4' * 32}"
    twiml = _signed(client, url, {"CallSid": "CA" + uuid.uuid4().hex, "From": LINE,
                                  "To": CALLER, "CallStatus": "in-progress",
                                  "AnsweredBy": "human"})
    assert "returning your call" in twiml and "<Dial" in twiml
