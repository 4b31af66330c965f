"""The live-call index written by the turn's own compare-and-set (one Redis), real Redis."""

from __future__ import annotations

import time

import pytest
import redis

from ivr.runtime.events import CallState
from ivr.store import live
from ivr.store.calls import Commit, Store
from ivr.store.keys import ENDED, LIVE

pytestmark = pytest.mark.redis


def turn_to(state: str, ended: bool = False):  # type: ignore[no-untyped-def]
    def apply(before: CallState | None, current: str | None = None) -> Commit:
        turn = before.turn + 1 if before else 1
        after = CallState("CAlive", "f", "v1", state=state, turn=turn, ended=ended)
        return Commit(after, f"<Response>{turn}</Response>", {"turn": turn})
    return apply


def scores(conn: redis.Redis, template: str) -> dict[str, float]:
    got = conn.zrange(template.format(live.bucket("CAlive")), 0, -1, withscores=True)
    return {m.decode(): s for m, s in got}


def test_a_start_and_an_end_are_noted_by_the_commit_itself(redis_conn: redis.Redis) -> None:
    store = Store(redis_conn, ttl=600)
    began = time.time()
    first = store.advance("CAlive", 0, turn_to("menu"))
    assert first.applied and first.noted
    assert set(scores(redis_conn, LIVE)) == {"CAlive"}
    assert began <= scores(redis_conn, LIVE)["CAlive"] <= time.time()
    assert live.members(redis_conn, False, 10) == ["CAlive"]
    store.advance("CAlive", 1, turn_to("pin"))                 # a middle turn: no change
    assert set(scores(redis_conn, LIVE)) == {"CAlive"} and not scores(redis_conn, ENDED)
    redis_conn.zadd(ENDED.format(live.bucket("CAlive")), {"CAold": began - 601})
    last = store.advance("CAlive", 2, turn_to("goodbye", ended=True))
    assert last.noted and not scores(redis_conn, LIVE)
    assert set(scores(redis_conn, ENDED)) == {"CAlive"}    # older than call_ttl: trimmed
    assert 0 < redis_conn.ttl(ENDED.format(live.bucket("CAlive"))) <= 600
    assert live.members(redis_conn, True, 10) == ["CAlive"]


def test_a_duplicate_notes_nothing_and_keeps_the_first_start(redis_conn: redis.Redis) -> None:
    store = Store(redis_conn, ttl=600)
    store.advance("CAlive", 0, turn_to("menu"))
    at = scores(redis_conn, LIVE)["CAlive"]
    again = store.advance("CAlive", 0, turn_to("menu"))       # Twilio's retry of the start
    assert not again.applied and not again.noted
    assert scores(redis_conn, LIVE) == {"CAlive": at}


def test_on_a_cluster_the_web_process_notes_it_after_the_response(
        redis_conn: redis.Redis) -> None:
    """The index is in other slots than the call: a cluster's script must not name it."""
    store = Store(redis_conn, ttl=600)
    store.cluster = True  # the script call a cluster client would get; this Redis runs it
    served = store.advance("CAlive", 0, turn_to("menu"))
    assert served.applied and not served.noted and not scores(redis_conn, LIVE)
    assert live.in_commit("CAlive", False, 2, 600, keys := ["k"]) == live.NOTHING == ("",)
    assert keys == ["k"]
