"""The person's phone leg of a Dial (``<Number statusCallback>``): ringing, answered and
hung up reach the call's transcript (and so the archive) without changing what the caller
hears; repeats, reorders, older legs, forgeries and garbage change nothing."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from flask import Flask

from ivr.store.calls import Store
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport

pytestmark = pytest.mark.redis


@pytest.fixture
def app(redis_url: str) -> Flask:
    return make_app(redis_url)


def ringing(app: Flask) -> TwilioCaller:
    """A caller who pressed 0: the person's phone is being rung."""
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    c.press("0")
    assert c.dialled
    return c


def leg_url(c: TwilioCaller) -> str:
    assert c.last is not None
    number = c.last.xml.find("Dial/Number")
    assert number is not None
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"
    return str(number.get("statusCallback"))


def report(c: TwilioCaller, url: str, status: str, **extra: str) -> int:
    """The person's leg reports ``status`` (its own CallSid; the caller's as its parent)."""
    params = c.params(CallSid=c.sid[:-1] + "L", ParentCallSid=c.sid, CallStatus=status,
                      Direction="outbound-dial", **extra)
    reply = c.post(url, params, keep=False)
    assert reply.text.strip().endswith("<Response />")  # nobody hears a status callback
    return reply.status


def legs(conn: redis.Redis, sid: str) -> list[str]:
    return [str(line["heard"].get("status")) for line in Store(conn).transcript(sid)
            if line["heard"]["kind"] == "leg"]


def test_ringing_answered_and_hung_up_reach_the_transcript(
        app: Flask, redis_conn: redis.Redis) -> None:
    c = ringing(app)
    url, dial_action = leg_url(c), c.action("Dial")
    assert parse_qs(urlsplit(url).query)["sid"] == [c.sid]
    for status in ("initiated", "ringing", "in-progress"):
        assert report(c, url, status) == 200
    call = Store(redis_conn).load(c.sid)
    assert call is not None and call.state == "human" and not call.ended
    assert call.picked_up and datetime.fromisoformat(call.picked_up)
    assert legs(redis_conn, c.sid) == ["initiated", "ringing", "answered"]
    report(c, url, "completed", CallDuration="95")
    c.post(dial_action, c.params(DialCallStatus="completed"))  # the Dial's own result
    call = Store(redis_conn).load(c.sid)
    assert call is not None and call.ended and call.outcome == "human"
    lines = Store(redis_conn).transcript(c.sid)
    assert [ln["heard"].get("seconds") for ln in lines if ln["heard"].get("status")
            == "completed" and ln["heard"]["kind"] == "leg"] == [95]


def test_repeats_and_reorders_are_not_news(app: Flask, redis_conn: redis.Redis) -> None:
    c = ringing(app)
    url = leg_url(c)
    report(c, url, "ringing")
    report(c, url, "in-progress")
    before = Store(redis_conn).load(c.sid)
    report(c, url, "in-progress")                   # Twilio retried it
    report(c, url, "ringing")                       # a late, out-of-order one
    report(c, url, "initiated")
    after = Store(redis_conn).load(c.sid)
    assert before is not None and after is not None and after.turn == before.turn
    assert legs(redis_conn, c.sid) == ["ringing", "answered"]


def test_a_leg_report_never_dials_again_nor_changes_what_the_caller_hears(
        app: Flask, redis_conn: redis.Redis) -> None:
    c = ringing(app)
    url = leg_url(c)
    report(c, url, "ringing")
    report(c, url, "completed", CallDuration="0")  # the person's phone was busy
    c.answered("busy")                              # ... and the Dial says so
    assert "call you back" in c.spoken.lower() or "Gather" in c.verbs
    call = Store(redis_conn).load(c.sid)
    assert call is not None and call.state != "human"
    report(c, url, "completed")                     # a late repeat: the call has moved on
    later = Store(redis_conn).load(c.sid)
    assert later is not None and later.turn == call.turn and later.state == call.state


def test_an_older_legs_report_is_ignored(app: Flask, redis_conn: redis.Redis) -> None:
    c = ringing(app)
    old = leg_url(c)
    c.answered("no-answer")                         # the callback offer
    c.press("0")                                    # ring the person again: a new leg
    new = leg_url(c)
    assert new != old
    report(c, old, "ringing")
    assert legs(redis_conn, c.sid) == []
    report(c, new, "ringing")
    assert legs(redis_conn, c.sid) == ["ringing"]


@pytest.mark.parametrize("params", [
    {"CallStatus": "exploded"},
    {"CallStatus": ""},
    {"CallStatus": "ringing", "ParentCallSid": "CAsomebodyelse"},
])
def test_garbage_and_foreign_reports_change_nothing(app: Flask, redis_conn: redis.Redis,
                                                    params: dict[str, str]) -> None:
    c = ringing(app)
    url = leg_url(c)
    before = Store(redis_conn).load(c.sid)
    extra = {k: v for k, v in params.items() if k != "CallStatus"}
    reply = c.post(url, c.params(CallSid="CAleg", **{"ParentCallSid": c.sid, **extra,
                                                      "CallStatus": params["CallStatus"]}),
                   keep=False)
    assert reply.status == 200 and "<Response" in reply.text
    after = Store(redis_conn).load(c.sid)
    assert before is not None and after is not None and after.turn == before.turn


def test_bad_urls_unknown_calls_and_forgeries(app: Flask, redis_conn: redis.Redis) -> None:
    c = ringing(app)
    url = leg_url(c)
    base = url.split("?")[0]
    for bad in (f"{base}?sid=CAnobody&turn=3", f"{base}?sid={c.sid}&turn=x",
                f"{base}?turn=3", f"{base}?sid=%00&turn=3"):
        reply = c.post(bad, c.params(CallStatus="ringing", ParentCallSid=""), keep=False)
        assert reply.status == 200
    forged = c.post(url, c.params(CallStatus="ringing"), signature="forged", keep=False)
    assert forged.status == 403
    assert legs(redis_conn, c.sid) == []
