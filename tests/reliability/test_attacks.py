"""Forged, replayed and tampered signatures; duplicate and out-of-order deliveries.

All over real HTTP to gunicorn (2 workers) with the call state in the stack's Redis.
"""

from __future__ import annotations

import base64
import threading
import urllib.parse

import pytest
import redis

from ivr.store.calls import Store
from tests.reliability.harness import HUMAN, STATS, Stack, check_twiml, dialled, dump_redis
from tests.twilio_caller import Reply, TwilioCaller, http_transport, sign

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.redis]


def caller(stack: Stack) -> TwilioCaller:
    c = TwilioCaller(http_transport(), base=stack.base)
    STATS["calls"] += 1
    return c


def snapshot(conn: redis.Redis, sid: str) -> tuple[dict[str, str], int]:
    """Everything Redis holds about call ``sid``, and how many RQ jobs exist."""
    mine = {k: v for k, v in dump_redis(conn).items() if sid in k}
    return mine, sum(1 for _ in conn.scan_iter("rq:job:*"))


def test_forged_replayed_and_tampered_signatures_are_all_rejected(
        stack: Stack, conn: redis.Redis) -> None:
    c = caller(stack)
    c.dial()
    c.press("9")                                  # in "other": speech there writes an inbox job
    action = c.gather_action()
    base = stack.base
    host = urllib.parse.urlsplit(base)
    good = c.params(SpeechResult="I found a card", Confidence="0.9")
    sig = sign(action, good)
    before = snapshot(conn, c.sid)
    other_flow = action.replace("/card-services/", "/clinic-appointments/")
    attacks: list[tuple[str, str, dict[str, str], str]] = [
        ("no signature", action, good, ""),
        ("garbage signature", action, good, "not-a-signature"),
        ("random bytes", action, good, base64.b64encode(b"\x00" * 20).decode()),
        ("one character changed", action, good, ("A" if sig[0] != "A" else "B") + sig[1:]),
        ("wrong auth token", action, good, sign(action, good, "another-accounts-token")),
        ("SHA-256 of the right data", action, good, base64.b64encode(
            __import__("hashlib").sha256(action.encode()).digest()).decode()),
        ("signature of the GET URL", action, good, sign(
            action + "&" + urllib.parse.urlencode(good), {})),
        # replayed: a valid signature, sent to another URL
        ("replayed to the next turn", action.replace("turn=2", "turn=3"), good, sig),
        ("replayed to no_input", action.replace("e=turn", "e=no_input"), good, sig),
        ("replayed to another flow", other_flow, good, sig),
        ("replayed to the status callback", f"{base}/voice/status", good, sig),
        ("replayed to the Voice URL", f"{base}/voice/card-services", good, sig),
        ("signed for https, sent over http", action, good,
         sign(action.replace("http://", "https://"), good)),
        ("signed for another host", action, good,
         sign(action.replace(host.netloc, "ivr.example.com"), good)),
        ("query string added", action + "&x=1", good, sig),
        # tampered: the body changed after signing
        ("speech changed", action, {**good, "SpeechResult": "transfer money"}, sig),
        ("digits added", action, {**good, "Digits": "0"}, sig),
        ("parameter removed", action, {k: v for k, v in good.items() if k != "Confidence"},
         sig),
        ("CallSid swapped", action, {**good, "CallSid": "CA" + "f" * 32}, sig),
        ("caller changed", action, {**good, "From": "+15550001111"}, sig),
        ("forged hang-up", f"{base}/voice/status", c.params(CallStatus="completed"),
         sign(f"{base}/voice/status", c.params(CallStatus="canceled"))),
    ]
    rejected = []
    for name, url, params, signature in attacks:
        headers = {"X-Twilio-Signature": signature} if signature else {}
        reply = c.send(url, params, headers)
        STATS["attacks"] += 1
        rejected.append((name, reply.status))
    assert [r for r in rejected if r[1] != 403] == []
    assert snapshot(conn, c.sid) == before        # nothing changed: state, TwiML, jobs
    c.say("I found a card")                       # the genuine request still works
    assert c.last is not None and c.last.status == 200 and dialled(c.last.text) == HUMAN
    STATS["reached_human"] += 1


def test_duplicate_concurrent_and_out_of_order_deliveries_advance_once(
        stack: Stack, conn: redis.Redis) -> None:
    store = Store(conn)
    c = caller(stack)
    c.dial()
    turn1 = c.gather_action()
    # 1. the same webhook 10 times at once, different digits mixed in (a retry storm)
    replies: list[Reply] = []
    barrier = threading.Barrier(10)

    def deliver(i: int) -> None:
        barrier.wait()
        replies.append(c.post(turn1, c.params(Digits="2" if i % 3 else "3"), keep=False))

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    STATS["attacks"] += len(replies)
    assert len(replies) == 10 and {r.status for r in replies} == {200}
    assert len({r.text for r in replies}) == 1     # everybody got the winner's TwiML
    call = store.load(c.sid)
    assert call is not None and call.turn == 2
    assert len(store.transcript(c.sid)) == 2
    c.last = replies[0]
    check_twiml(c.last.text)
    turn2 = c.gather_action()
    # 2. out of order: the next turn arrives before the (re)delivery of the previous one
    ahead = c.post(turn2.replace("turn=2", "turn=3"), c.params(Digits="1"), keep=False)
    assert ahead.status == 200 and ahead.text == replies[0].text   # future turn: re-served
    assert store.load(c.sid).turn == 2  # type: ignore[union-attr]
    c.last = replies[0]
    entry = "12345" if "PIN" in replies[0].text else "5"
    c.press(entry)
    after = store.load(c.sid)
    assert after is not None and after.turn == 3
    stale = c.post(turn1, c.params(Digits="3"), keep=False)          # late duplicate
    assert stale.status == 200 and stale.text == c.last.text         # latest TwiML again
    stale2 = c.post(turn2, c.params(Digits=entry), keep=False)
    assert stale2.text == c.last.text
    STATS["attacks"] += 4
    final = store.load(c.sid)
    assert final is not None and final.turn == 3 and final.path == after.path
    lines = store.transcript(c.sid)
    assert [x["turn"] for x in lines] == [1, 2, 3]
    STATS["duplicates"] += len(lines) - len({x["turn"] for x in lines})
    c.press("0")
    assert dialled(c.last.text) == HUMAN
    STATS["reached_human"] += 1
