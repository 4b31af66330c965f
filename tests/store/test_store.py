"""The Redis store against real Redis: keys, TTLs, and turns applied exactly once."""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis

from ivr.config import Settings
from ivr.runtime.events import CallState
from ivr.store.calls import Store, Turn, UnknownCall
from ivr.store.connection import connect, embedded_socket, stop_embedded

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_conn: redis.Redis) -> Store:
    return Store(redis_conn, ttl=600)


def starter(sid: str, twiml: str = "<Response>start</Response>"):  # type: ignore[no-untyped-def]
    def apply(before: CallState | None, current: str | None = None) -> Turn:
        assert before is None
        return Turn(CallState(sid, "f", "v1", state="menu", turn=1), twiml, {"turn": 1})
    return apply


def stepper(calls: list[int], delay: float = 0.0):  # type: ignore[no-untyped-def]
    def apply(before: CallState | None, current: str | None = None) -> Turn:
        assert before is not None
        calls.append(before.turn)
        time.sleep(delay)
        after = CallState(before.sid, before.flow, before.version, state="next",
                          turn=before.turn + 1)
        return Turn(after, f"<Response>turn {after.turn}</Response>", {"turn": after.turn})
    return apply


def test_start_stores_state_twiml_and_transcript_with_ttl(store: Store,
                                                          redis_conn: redis.Redis) -> None:
    out = store.advance("CA1", 0, starter("CA1"))
    assert out.applied and out.twiml == "<Response>start</Response>"
    assert store.load("CA1") == CallState("CA1", "f", "v1", state="menu", turn=1)
    assert 0 < redis_conn.ttl("ivr:call:CA1") <= 600
    assert 0 < redis_conn.ttl("ivr:transcript:CA1") <= 600
    assert store.transcript("CA1") == [{"turn": 1}]
    stored = json.loads(redis_conn.hget("ivr:call:CA1", "state") or b"{}")
    assert stored["state"] == "menu" and redis_conn.hget("ivr:call:CA1", "turn") == b"1"


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
