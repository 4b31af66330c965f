"""The outbox drainer on real Redis and RQ: a turn's jobs reach RQ once, whatever crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from rq.serializers import JSONSerializer

from ivr.config import Settings
from ivr.jobs import enqueue as jobs
from ivr.jobs import outbox, worker
from ivr.runtime.actions import Job
from ivr.runtime.events import CallState
from ivr.store.calls import Commit, Store
from ivr.store.keys import OUTBOX, OUTBOXES
from tests.jobs.test_jobs import call_jobs

pytestmark = pytest.mark.redis


def commit(store: Store, sid: str, jobs_: list[Job], turn: int = 0) -> None:
    """One turn of call ``sid`` that commits ``jobs_`` (the real compare-and-set)."""

    def apply(before: CallState | None, current: str | None = None) -> Commit:
        n = before.turn + 1 if before else 1
        return Commit(CallState(sid, "card-services", "v1", turn=n), "<Response/>", None, jobs_)

    assert store.advance(sid, turn, apply).applied


def rq_ids(conn: redis.Redis) -> list[str]:
    return sorted(k.decode().split(":", 2)[2] for k in conn.scan_iter("rq:job:*"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(spool_dir=str(tmp_path / "spool"), job_retry_intervals=[0])


def test_drain_moves_every_entry_under_per_turn_ids_and_empties_the_outbox(
        redis_conn: redis.Redis, settings: Settings) -> None:
    store = Store(redis_conn)
    commit(store, "CA1", call_jobs("CA1")[:1])                # turn 1: a capture
    commit(store, "CA1", call_jobs("CA1")[1:], turn=1)        # turn 2: voicemail, the end
    assert outbox.drain(redis_conn, "CA1", settings) == 3
    assert rq_ids(redis_conn) == ["CA1-t1-0-inbox", "CA1-t1-0-notify-inbox",
                                  "CA1-t2-0-callback", "CA1-t2-0-notify-callback",
                                  "CA1-t2-1-record"]
    assert not redis_conn.exists(OUTBOX.format("CA1"))
    assert redis_conn.zcard(OUTBOXES) == 0
    assert outbox.drain(redis_conn, "CA1", settings) == 0


def test_a_crash_after_the_move_moves_again_without_duplicates(
        redis_conn: redis.Redis, settings: Settings) -> None:
    store = Store(redis_conn)
    commit(store, "CA1", call_jobs("CA1"))
    raw = redis_conn.lrange(OUTBOX.format("CA1"), 0, -1)
    redis_conn.zadd(OUTBOXES, {"CA1": 1.0})                  # the dead drain's mark
    for entry in raw[:2]:                                     # moved, then SIGKILL: no LREM
        e = json.loads(entry)
        jobs.enqueue(redis_conn, Job(e["kind"], e["payload"]), settings, e["id"])
    before = rq_ids(redis_conn)
    assert outbox.drain_pending(redis_conn, settings, scan=False) == 3
    assert rq_ids(redis_conn) == sorted({*before, "CA1-t1-2-record"})
    assert redis_conn.llen("rq:queue:ivr") == 3 and redis_conn.llen("rq:queue:ivr-notify") == 2
    assert not redis_conn.exists(OUTBOX.format("CA1")) and redis_conn.zcard(OUTBOXES) == 0


def test_redis_failing_mid_drain_leaves_the_rest_for_the_next_drain(
        redis_conn: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(redis_conn)
    commit(store, "CA1", call_jobs("CA1"))
    real, calls = jobs.enqueue, []

    def flaky(*args: object, **kw: object) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise redis.ConnectionError("gone")
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "enqueue", flaky)
    outbox.drain_quietly(redis_conn, "CA1", settings)         # logged, never raised
    assert redis_conn.llen(OUTBOX.format("CA1")) == 2          # the first one is out
    assert redis_conn.zcard(OUTBOXES) == 1                     # the worker will find it
    monkeypatch.setattr(outbox, "enqueue", real)
    assert outbox.drain_pending(redis_conn, settings, scan=False) == 2
    assert len(rq_ids(redis_conn)) == 5 and redis_conn.zcard(OUTBOXES) == 0


def test_the_sweep_finds_an_outbox_nobody_marked(redis_conn: redis.Redis,
                                                 settings: Settings) -> None:
    """A web process killed between the commit and its drain's first round trip."""
    commit(Store(redis_conn), "CA2", call_jobs("CA2")[2:])
    assert outbox.drain_pending(redis_conn, settings, scan=False) == 0
    assert outbox.drain_pending(redis_conn, settings, scan=True) == 1
    assert rq_ids(redis_conn) == ["CA2-t1-0-record"]


def test_a_newer_mark_survives_an_older_drain(redis_conn: redis.Redis,
                                              settings: Settings) -> None:
    commit(Store(redis_conn), "CA1", call_jobs("CA1")[2:])
    redis_conn.zadd(OUTBOXES, {"CA1": 5.0})                    # another drain began since
    assert outbox.drain(redis_conn, "CA1", settings, mark=4.0) == 1
    assert redis_conn.zscore(OUTBOXES, "CA1") == 5.0
    assert outbox.drain_pending(redis_conn, settings) == 0     # it finds nothing and unmarks
    assert redis_conn.zcard(OUTBOXES) == 0


def test_a_malformed_entry_is_kept_aside_not_retried_forever(
        redis_conn: redis.Redis, settings: Settings) -> None:
    redis_conn.rpush(OUTBOX.format("CA3"), b"{not json", json.dumps(
        {"id": "t1-0", "kind": "call_end", "payload": call_jobs("CA3")[2].payload}))
    assert outbox.drain(redis_conn, "CA3", settings) == 2
    assert rq_ids(redis_conn) == ["CA3-t1-0-record"]
    [bad] = Path(settings.spool_dir).glob("*.bad")
    assert bad.read_bytes() == b"{not json" and not redis_conn.exists(OUTBOX.format("CA3"))


def test_worker_start_and_maintenance_drain_outboxes(redis_conn: redis.Redis,
                                                     settings: Settings) -> None:
    from ivr.jobs import tasks

    tasks.configure(settings)
    try:
        commit(Store(redis_conn), "CA4", call_jobs("CA4")[2:])
        w = worker.Worker(jobs.job_queues(redis_conn), connection=redis_conn,
                          serializer=JSONSerializer)
        w.drain()                                              # at start: index and SCAN
        assert rq_ids(redis_conn) == ["CA4-t1-0-record"]
        commit(Store(redis_conn), "CA5", call_jobs("CA5")[2:])
        redis_conn.zadd(OUTBOXES, {"CA5": 1.0})
        w.run_maintenance_tasks()                              # later: the index
        assert "CA5-t1-0-record" in rq_ids(redis_conn)
    finally:
        tasks.configure(None)


def test_the_unmark_survives_a_flushed_script_cache(redis_conn: redis.Redis,
                                                    settings: Settings) -> None:
    commit(Store(redis_conn), "CA6", call_jobs("CA6")[2:])
    redis_conn.script_flush()
    assert outbox.drain(redis_conn, "CA6", settings) == 1
    assert redis_conn.zcard(OUTBOXES) == 0
