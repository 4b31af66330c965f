"""Lost calls on real Redis and real RQ workers: a call whose status callback never came is
closed as ``lost`` before its keys expire, archived once, and taken off the live page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask import Flask

from ivr.config import Settings
from ivr.jobs import lost, tasks
from ivr.jobs.archive import Archive
from ivr.jobs.worker import run_worker
from ivr.qa.export import transcript_for
from ivr.store import live
from ivr.store.calls import Store
from ivr.store.keys import CALL, OUTBOX
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport

pytestmark = pytest.mark.redis
TTL = 600


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    s = Settings(spool_dir=str(tmp_path / "spool"), archive_path=str(tmp_path / "a.db"),
                 job_retry_intervals=[0], ops_webhook_url="", call_ttl=TTL,
                 lost_margin=60, caller_key_secret="k")
    yield s
    tasks.configure(None)


@pytest.fixture
def app(redis_url: str) -> Flask:
    return make_app(redis_url, call_ttl=TTL)


def a_call(app: Flask) -> TwilioCaller:
    """A caller in the main menu whose status callback will never come."""
    c = TwilioCaller(flask_transport(app.test_client()))
    c.dial()
    c.press("9")
    return c


def test_a_fresh_call_is_left_alone(app: Flask, redis_conn: redis.Redis,
                                    settings: Settings) -> None:
    c = a_call(app)
    assert lost.sweep(redis_conn, settings).closed == []
    state = Store(redis_conn, TTL).load(c.sid)
    assert state is not None and not state.ended
    assert c.sid in live.members(redis_conn, False, 100)


def test_an_old_call_is_closed_archived_once_and_leaves_the_live_index(
        app: Flask, redis_conn: redis.Redis, settings: Settings) -> None:
    c = a_call(app)
    redis_conn.expire(CALL.format(c.sid), 30)          # its last turn was 9.5 min ago
    swept = lost.sweep(redis_conn, settings)
    assert swept.closed == [c.sid]
    state = Store(redis_conn, TTL).load(c.sid)
    assert state is not None and state.ended and state.outcome == "lost"
    assert c.sid not in live.members(redis_conn, False, 100)
    assert c.sid in live.members(redis_conn, True, 100)   # "show ended calls" still has it
    assert not redis_conn.exists(OUTBOX.format(c.sid))    # the call_end job went to RQ
    assert redis_conn.ttl(CALL.format(c.sid)) > 500       # kept for the archive job
    run_worker(redis_conn, settings, burst=True)
    archive = Archive.from_settings(settings)
    call = archive.call(c.sid)
    assert call is not None and call["outcome"] == "lost"
    assert call["reason"].startswith("no status callback within 9:3")
    assert "call_ttl 10:00" in call["reason"] and "last turn" in call["reason"]
    turns = archive.counts()["turns"]
    exported = transcript_for({**call, "turns": archive.calls_with_turns()[0][3]})
    assert exported["steps"][-1] == {"hangup": True} and "outcome" not in exported
    # the status callback arrives after all: the call has ended, nothing is archived twice
    c.hangup()
    assert lost.sweep(redis_conn, settings).closed == []
    run_worker(redis_conn, settings, burst=True)
    assert archive.counts()["calls"] == 1 and archive.counts()["turns"] == turns
    assert Archive.from_settings(settings).call(c.sid)["outcome"] == "lost"  # type: ignore[index]


def test_a_call_that_ended_normally_is_not_lost(app: Flask, redis_conn: redis.Redis,
                                                settings: Settings) -> None:
    c = a_call(app)
    c.hangup()
    redis_conn.expire(CALL.format(c.sid), 30)
    assert lost.sweep(redis_conn, settings).closed == []
    state = Store(redis_conn, TTL).load(c.sid)
    assert state is not None and state.outcome != "lost"


def test_two_workers_sweeping_at_once_close_it_once(app: Flask, redis_conn: redis.Redis,
                                                    settings: Settings,
                                                    redis_url: str) -> None:
    sids = [a_call(app).sid for _ in range(5)]
    for sid in sids:
        redis_conn.expire(CALL.format(sid), 30)
    results: list[list[str]] = []
    gate = threading.Barrier(2)

    def one() -> None:
        conn = redis.Redis.from_url(redis_url)
        gate.wait()
        results.append(lost.sweep(conn, settings).closed)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results[0] + results[1]) == sorted(sids)   # each closed by exactly one
    run_worker(redis_conn, settings, burst=True)
    assert Archive.from_settings(settings).counts()["calls"] == 5


def test_the_worker_sweeps_at_start(app: Flask, redis_conn: redis.Redis,
                                    settings: Settings) -> None:
    c = a_call(app)
    run_worker(redis_conn, replace(settings, lost_margin=TTL), burst=True)
    call = Archive.from_settings(settings).call(c.sid)
    assert call is not None and call["outcome"] == "lost"


def test_an_expired_call_is_dropped_from_the_index(redis_conn: redis.Redis,
                                                   settings: Settings) -> None:
    live.started(redis_conn, "CAgone")
    swept = lost.sweep(redis_conn, settings)
    assert swept.expired == ["CAgone"] and swept.closed == []
    assert "CAgone" not in live.members(redis_conn, False, 100)


def test_clock_format() -> None:
    assert lost.clock(14400) == "4:00:00" and lost.clock(65) == "1:05"
    assert lost.clock(-3) == "0:00"
