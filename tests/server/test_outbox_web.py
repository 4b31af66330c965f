"""The web side of the outbox: jobs commit with the turn, move to RQ only after the response
is sent, and a hang-up that loses the race to a Dial/Record action is applied, not dropped."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask import Flask

from ivr.store.calls import Store
from ivr.store.keys import OUTBOX, OUTBOXES
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport, sign

pytestmark = pytest.mark.redis


def rq_ids(conn: redis.Redis) -> list[str]:
    return sorted(k.decode().split(":", 2)[2] for k in conn.scan_iter("rq:job:*"))


@pytest.fixture
def app(redis_url: str) -> Flask:
    return make_app(redis_url)


def unbuffered_post(app: Flask, c: TwilioCaller, url: str, **params: str) -> Any:
    """POST like Twilio, but keep the response open (the server has not finished it)."""
    data = c.params(**params)
    return app.test_client().post(url, data=data, headers={"X-Twilio-Signature": sign(url, data)})


def test_jobs_move_to_rq_only_once_the_response_is_closed(app: Flask,
                                                          redis_conn: redis.Redis) -> None:
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    c.press("9")                                  # "other": the next answer is a capture
    response = unbuffered_post(app, c, c.gather_action(), SpeechResult="I found a card",
                               Confidence="0.9")
    assert response.status_code == 200 and "<Dial" in response.get_data(as_text=True)
    assert rq_ids(redis_conn) == []               # the TwiML is out, the jobs are committed
    assert redis_conn.llen(OUTBOX.format(c.sid)) == 1
    response.close()                              # what the WSGI server does once it is sent
    assert rq_ids(redis_conn) == [f"{c.sid}-t3-0-inbox", f"{c.sid}-t3-0-notify-inbox"]
    assert not redis_conn.exists(OUTBOX.format(c.sid)) and redis_conn.zcard(OUTBOXES) == 0


def test_a_later_request_drains_what_a_dead_process_left(app: Flask,
                                                         redis_conn: redis.Redis) -> None:
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    c.press("9")
    action = c.gather_action()
    unbuffered_post(app, c, action, SpeechResult="I found a card", Confidence="0.9")
    # ... and the process died before closing it. Twilio retries the same webhook:
    c.post(action, c.params(SpeechResult="I found a card", Confidence="0.9"))
    assert "<Dial" in c.last.text  # type: ignore[union-attr]
    assert rq_ids(redis_conn) == [f"{c.sid}-t3-0-inbox", f"{c.sid}-t3-0-notify-inbox"]
    assert not redis_conn.exists(OUTBOX.format(c.sid))


def test_turns_without_jobs_touch_no_outbox(app: Flask, redis_conn: redis.Redis) -> None:
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    c.press("2")
    assert redis_conn.zcard(OUTBOXES) == 0 and rq_ids(redis_conn) == []


@pytest.mark.parametrize("first", ["dial", "status"])
def test_hangup_and_dial_result_of_one_turn_end_the_call_once(
        app: Flask, redis_conn: redis.Redis, first: str) -> None:
    """Both orders of the race: the call ends, with one call_end job, whoever wins."""
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    c.press("0")
    assert c.dialled
    dial_action = c.action("Dial")
    if first == "dial":
        c.post(dial_action, c.params(DialCallStatus="no-answer"))   # now: the callback offer
        c.hangup()
    else:
        c.hangup()
        c.post(dial_action, c.params(DialCallStatus="no-answer"))
    call = Store(redis_conn).load(c.sid)
    assert call is not None and call.ended
    assert [i for i in rq_ids(redis_conn) if i.endswith("-record")] == \
        [f"{c.sid}-t{call.turn}-0-record"]      # the hang-up's turn, once
    c.hangup()                                    # a second status callback: nothing new
    assert Store(redis_conn).load(c.sid).turn == call.turn  # type: ignore[union-attr]


def counting(pool: redis.ConnectionPool) -> list[int]:
    """Make ``pool`` count round trips (sends): the returned list holds the count."""
    sent = [0]
    base = pool.connection_class

    def send_packed_command(self: Any, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        base.send_packed_command(self, command, check_health)

    pool.connection_class = type("Counting", (base,), {
        "send_packed_command": send_packed_command})
    pool.reset()  # type: ignore[no-untyped-call]
    return sent


def test_a_turn_is_two_round_trips_and_its_drain_comes_after(app: Flask) -> None:
    """The outbox costs the turn nothing: still one read pipeline and one script."""
    from ivr.server.context import store_of
    from tests.twilio_caller import Reply

    sent = counting(store_of(app).conn.connection_pool)
    counts: list[tuple[int, int]] = []

    def send(url: str, data: Any, headers: Any) -> Reply:
        before = sent[0]
        r = app.test_client().post(url, data=dict(data), headers=dict(headers))
        served = sent[0] - before
        r.close()
        counts.append((served, sent[0] - before - served))
        return Reply(r.status_code, r.get_data(as_text=True))

    for _ in range(2):                            # the second call: scripts are loaded
        counts.clear()
        c = TwilioCaller(send)
        c.dial()
        c.press("9")
        c.say("I found a card")
        c.answered("completed")
    assert [turn for turn, _ in counts] == [2, 2, 2, 2]
    # after the response: the drain (1 + 2 per RQ job + 1); the live-call index (start,
    # end) rides in the turn's script on one Redis
    assert [drain for _, drain in counts] == [0, 0, 6, 4]
