"""The Redis store against real Redis: keys, TTLs, and turns applied exactly once."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import pytest
import redis
from redis.crc import key_slot

from ivr.config import Settings
from ivr.runtime.actions import Job
from ivr.runtime.events import CallState
from ivr.store.calls import MAX_TRIES, Commit, Contended, Stale, Store, UnknownCall
from ivr.store.connection import connect, embedded_socket, stop_embedded
from ivr.store.keys import CALL, LEGACY_CALL, LEGACY_TRANSCRIPT, OUTBOX, TRANSCRIPT

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_conn: redis.Redis) -> Store:
    return Store(redis_conn, ttl=600)


def starter(sid: str, twiml: str = "<Response>start</Response>"):  # type: ignore[no-untyped-def]
    def apply(before: CallState | None, current: str | None = None) -> Commit:
        assert before is None
        return Commit(CallState(sid, "f", "v1", state="menu", turn=1), twiml, {"turn": 1})
    return apply


def stepper(calls: list[int], delay: float = 0.0):  # type: ignore[no-untyped-def]
    def apply(before: CallState | None, current: str | None = None) -> Commit:
        assert before is not None
        calls.append(before.turn)
        time.sleep(delay)
        after = CallState(before.sid, before.flow, before.version, state="next",
                          turn=before.turn + 1)
        return Commit(after, f"<Response>turn {after.turn}</Response>", {"turn": after.turn})
    return apply


def test_start_stores_state_twiml_and_transcript_with_ttl(store: Store,
                                                          redis_conn: redis.Redis) -> None:
    out = store.advance("CA1", 0, starter("CA1"))
    assert out.applied and out.twiml == "<Response>start</Response>"
    assert store.load("CA1") == CallState("CA1", "f", "v1", state="menu", turn=1)
    assert 0 < redis_conn.ttl(CALL.format("CA1")) <= 600
    assert 0 < redis_conn.ttl(TRANSCRIPT.format("CA1")) <= 600
    assert store.transcript("CA1") == [{"turn": 1}]
    stored = json.loads(redis_conn.hget(CALL.format("CA1"), "state") or b"{}")
    assert stored["state"] == "menu" and redis_conn.hget(CALL.format("CA1"), "turn") == b"1"


def test_duplicate_start_reserves_the_first_twiml(store: Store) -> None:
    store.advance("CA1", 0, starter("CA1", "<Response>first</Response>"))
    again = store.advance("CA1", 0, starter("CA1", "<Response>second</Response>"))
    assert not again.applied and again.twiml == "<Response>first</Response>"
    assert store.load("CA1").turn == 1  # type: ignore[union-attr]


def test_stale_turn_is_not_applied(store: Store) -> None:
    calls: list[int] = []
    store.advance("CA1", 0, starter("CA1"))
    assert store.advance("CA1", 1, stepper(calls)).applied
    stale = store.advance("CA1", 1, stepper(calls))
    assert not stale.applied and stale.twiml == "<Response>turn 2</Response>"
    assert calls == [1] and len(store.transcript("CA1")) == 2


def test_event_for_unknown_call_raises(store: Store) -> None:
    with pytest.raises(UnknownCall):
        store.advance("CAnope", 3, stepper([]))


def test_concurrent_duplicates_advance_exactly_once(redis_url: str) -> None:
    conns = [redis.Redis.from_url(redis_url) for _ in range(8)]
    Store(conns[0]).advance("CA1", 0, starter("CA1"))
    calls: list[int] = []
    outs: list[object] = []
    barrier = threading.Barrier(8)

    def deliver(conn: redis.Redis) -> None:
        barrier.wait()
        outs.append(Store(conn).advance("CA1", 1, stepper(calls, delay=0.02)))

    threads = [threading.Thread(target=deliver, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    applied = [o for o in outs if o.applied]  # type: ignore[attr-defined]
    assert len(applied) == 1
    assert {o.twiml for o in outs} == {"<Response>turn 2</Response>"}  # type: ignore[attr-defined]
    state = Store(conns[0]).load("CA1")
    assert state is not None and state.turn == 2
    assert [r["turn"] for r in Store(conns[0]).transcript("CA1")] == [1, 2]
    for c in conns:
        c.close()


def test_flow_versions_and_current_pointer(store: Store) -> None:
    assert store.current("card") is None and store.flow_text("card", "v1") is None
    store.put_flow("card", "v1", "flow: card\n# é\n")
    store.set_current("card", "v1")
    assert store.current("card") == "v1"
    assert store.flow_text("card", "v1") == "flow: card\n# é\n"


def test_connect_uses_redis_url_with_short_timeouts(redis_url: str) -> None:
    conn = connect(Settings(redis_url=redis_url, redis_timeout=0.5))
    assert conn.ping()
    kwargs = conn.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.5
    conn.close()


def test_embedded_server_is_shared_by_path(tmp_path: object) -> None:
    path = str(tmp_path) + "/ivr.db"  # type: ignore[operator]
    sock = embedded_socket(path)
    assert embedded_socket(path) == sock
    a = connect(Settings(redis_db_path=path))
    b = redis.Redis(unix_socket_path=sock)
    a.set("k", "v")
    assert b.get("k") == b"v"
    a.close()
    b.close()
    stop_embedded(path)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(unix_socket_path=sock).ping()


def test_redis_down_raises_quickly() -> None:
    conn = connect(Settings(redis_url="redis://127.0.0.1:1/0", redis_timeout=0.3))
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        Store(conn).advance("CA1", 0, starter("CA1"))
    assert time.monotonic() - started < 2


# --- the outbox: a turn's jobs commit with it ------------------------------------------------

def jobber(sid: str, jobs: list[Job]):  # type: ignore[no-untyped-def]
    def apply(before: CallState | None, current: str | None = None) -> Commit:
        turn = before.turn + 1 if before else 1
        return Commit(CallState(sid, "f", "v1", state="s", turn=turn), f"<R>{turn}</R>",
                      {"turn": turn}, jobs)
    return apply


def test_the_turns_jobs_are_in_its_outbox_in_one_slot(store: Store,
                                                       redis_conn: redis.Redis) -> None:
    jobs = [Job("inbox", {"sid": "CA1", "said": "hi"}), Job("call_end", {"sid": "CA1"})]
    out = store.advance("CA1", 0, jobber("CA1", jobs))
    assert out.applied and out.pending == 2
    entries = [json.loads(x) for x in redis_conn.lrange(OUTBOX.format("CA1"), 0, -1)]
    assert entries == [{"id": "t1-0", "kind": "inbox", "payload": {"sid": "CA1", "said": "hi"}},
                       {"id": "t1-1", "kind": "call_end", "payload": {"sid": "CA1"}}]
    assert redis_conn.ttl(OUTBOX.format("CA1")) == -1      # kept until drained
    names = [CALL.format("CA1"), TRANSCRIPT.format("CA1"), OUTBOX.format("CA1")]
    assert names == ["ivr:call:{CA1}", "ivr:transcript:{CA1}", "ivr:outbox:{CA1}"]
    assert len({key_slot(n.encode()) for n in names}) == 1    # Redis Cluster: one slot
    again = store.advance("CA1", 0, jobber("CA1", jobs))      # a duplicate commits nothing
    assert not again.applied and again.pending == 2
    assert redis_conn.llen(OUTBOX.format("CA1")) == 2


def test_a_lost_compare_and_set_commits_no_jobs(redis_url: str) -> None:
    a, b = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    Store(a).advance("CA1", 0, starter("CA1"))

    def racing(before: CallState | None, current: str | None = None) -> Commit:
        Store(b).advance("CA1", 1, stepper([]))               # the other delivery wins
        return jobber("CA1", [Job("call_end", {"sid": "CA1"})])(before, current)

    out = Store(a).advance("CA1", 1, racing)
    assert not out.applied and out.twiml == "<Response>turn 2</Response>"
    assert a.llen(OUTBOX.format("CA1")) == 0
    a.close()
    b.close()


# --- events of the whole call (turn=None) -----------------------------------------------------

def test_turn_none_applies_to_the_current_turn(store: Store) -> None:
    store.advance("CA1", 0, starter("CA1"))
    store.advance("CA1", 1, stepper([]))
    seen: list[int] = []
    out = store.advance("CA1", None, stepper(seen))
    assert out.applied and seen == [2] and store.load("CA1").turn == 3  # type: ignore[union-attr]


def test_turn_none_is_stepped_again_when_another_turn_commits_first(redis_url: str) -> None:
    a, b = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    Store(a).advance("CA1", 0, starter("CA1"))
    seen: list[int] = []

    def hangup(before: CallState | None, current: str | None = None) -> Commit:
        assert before is not None
        seen.append(before.turn)
        if len(seen) < 3:                                     # two Dial actions sneak in
            Store(b).advance("CA1", before.turn, stepper([]))
        return jobber("CA1", [Job("call_end", {"sid": "CA1"})])(before, current)

    out = Store(a).advance("CA1", None, hangup)
    assert out.applied and seen == [1, 2, 3]
    assert Store(a).load("CA1").turn == 4  # type: ignore[union-attr]
    assert [json.loads(x)["id"] for x in a.lrange(OUTBOX.format("CA1"), 0, -1)] == ["t4-0"]
    a.close()
    b.close()


def test_turn_none_gives_up_after_max_tries(redis_url: str) -> None:
    a, b = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    Store(a).advance("CA1", 0, starter("CA1"))

    def always_late(before: CallState | None, current: str | None = None) -> Commit:
        assert before is not None
        Store(b).advance("CA1", before.turn, stepper([]))
        return stepper([])(before, current)

    with pytest.raises(Contended):
        Store(a).advance("CA1", None, always_late)
    assert Store(a).load("CA1").turn == 1 + MAX_TRIES  # type: ignore[union-attr]
    a.close()
    b.close()


def test_stale_serves_what_is_stored(store: Store) -> None:
    store.advance("CA1", 0, starter("CA1"))

    def nothing(before: CallState | None, current: str | None = None) -> Commit:
        raise Stale("CA1")

    out = store.advance("CA1", None, nothing)
    assert not out.applied and out.twiml == "<Response>start</Response>"
    assert out.call is not None and out.call.turn == 1
    with pytest.raises(UnknownCall):
        store.advance("CAnope", None, nothing)


def test_calls_stored_under_untagged_names_are_adopted(store: Store,
                                                       redis_conn: redis.Redis) -> None:
    """A deploy does not strand calls in flight: keys of the earlier names are renamed."""
    state = CallState("CAold", "f", "v1", state="menu", turn=1)
    redis_conn.hset(LEGACY_CALL.format("CAold"), mapping={
        "state": json.dumps(state.to_dict()), "turn": 1, "twiml": b""})
    redis_conn.expire(LEGACY_CALL.format("CAold"), 300)
    redis_conn.rpush(LEGACY_TRANSCRIPT.format("CAold"), json.dumps({"turn": 1}))
    out = store.advance("CAold", 1, stepper([]))
    assert out.applied and store.load("CAold").turn == 2  # type: ignore[union-attr]
    assert [x["turn"] for x in store.transcript("CAold")] == [1, 2]
    assert not redis_conn.exists(LEGACY_CALL.format("CAold"))
    redis_conn.hset(LEGACY_CALL.format("CAold2"), mapping={
        "state": json.dumps(replace(state, sid="CAold2").to_dict()), "turn": 1})
    assert store.load("CAold2") is not None and redis_conn.exists(CALL.format("CAold2"))


def test_a_stored_state_with_a_field_this_version_lacks_still_loads() -> None:
    """from_dict takes the stored dict as it is, and drops names that are not fields (a
    newer version's) instead of failing the call."""
    from ivr.runtime.events import CallState

    state = CallState("CAx", "card-services", "v1", state="menu", turn=2, path=["a"])
    assert CallState.from_dict(state.to_dict()) == state
    assert CallState.from_dict(dict(state.to_dict(), later_field=1)) == state
    with pytest.raises(TypeError):
        CallState.from_dict({"flow": "card-services"})
