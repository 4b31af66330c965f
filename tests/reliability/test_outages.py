"""Redis SIGKILLed in the middle of a burst of calls; RQ workers SIGKILLed mid-job, 3 times."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import redis
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from ivr.jobs import enqueue as jobs
from ivr.jobs import worker
from ivr.jobs.archive import Archive
from ivr.store.calls import Store
from tests.reliability.harness import (
    EMERGENCY,
    HUMAN,
    STATS,
    Stack,
    check_twiml,
    dialled,
    wait_for,
)
from tests.twilio_caller import Reply, TwilioCaller, http_transport

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.redis]


def place_call(stack: Stack, script: list[str], log: list[list[Reply]],
               on_turn: threading.Event | None = None) -> TwilioCaller:
    """One call: dial, then press each key until the TwiML dials someone."""
    c = TwilioCaller(http_transport(timeout=30), base=stack.base)
    replies: list[Reply] = []
    log.append(replies)
    replies.append(c.dial())
    for keys in script:
        if dialled(replies[-1].text):
            break
        if on_turn is not None:
            on_turn.wait(10)
        replies.append(c.press(keys))
    return c


def judge(replies: list[Reply]) -> str:
    """'human' / 'emergency' when the call ends dialling that number, else ''."""
    for r in replies:
        assert r.status == 200, r.text[:300]
        check_twiml(r.text)
    number = dialled(replies[-1].text)
    return "emergency" if number == EMERGENCY else "human" if number == HUMAN else ""


def test_redis_killed_mid_burst_every_caller_reaches_a_human(
        stack: Stack, conn: redis.Redis) -> None:
    script = ["2", "12345", "0"]                # balance, PIN, then a person
    calls: list[list[Reply]] = []
    callers: list[TwilioCaller] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                callers.append(place_call(stack, script, calls))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    # one call held mid-flight on purpose: dialled before the crash, pressed during it
    held: list[list[Reply]] = []
    held_caller = TwilioCaller(http_transport(), base=stack.base)
    held.append([held_caller.dial()])
    threads = [threading.Thread(target=loop) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.8)
        stack.kill_redis()                      # SIGKILL: connections drop mid-request
        down = time.monotonic()
        held[0].append(held_caller.press("2"))  # during the outage
        assert time.monotonic() - down < 5
        time.sleep(1.5)
        stack.start_redis()                     # same port, same append-only file
        time.sleep(0.8)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors
    during = calls + held
    verdicts = [judge(r) for r in during]
    STATS["calls"] += len(during)
    STATS["reached_human"] += sum(v != "" for v in verdicts)
    STATS["no_human"] += sum(v == "" for v in verdicts)
    assert "" not in verdicts
    assert judge(held[0]) == "emergency"
    assert verdicts.count("emergency") >= 1 and verdicts.count("human") >= 1, verdicts
    # calls started after Redis is back work normally (no emergency path)
    after: list[list[Reply]] = []
    for _ in range(6):
        callers.append(place_call(stack, script, after))
    STATS["calls"] += len(after)
    assert [judge(r) for r in after] == ["human"] * 6
    STATS["reached_human"] += len(after)
    store = Store(conn)
    for replies, c in zip(after, callers[-6:], strict=True):
        call = store.load(c.sid)
        assert call is not None and call.state == "human" and call.turn == len(replies)
    # every call Redis knows about ends, and is archived once (the spool included)
    for c in callers + [held_caller]:
        assert c.hangup().status == 200
    known = [c.sid for c in callers + [held_caller] if store.load(c.sid) is not None]
    stack.drain()
    archive = Archive(stack.archive)
    lost = [sid for sid in known if archive.call(sid) is None]
    STATS["records_lost"] += len(lost)
    assert lost == []


def _queues_idle(conn: redis.Redis) -> bool:
    s = worker.stats(conn)
    return all(q["queued"] == 0 and q["started"] == 0 and q["scheduled"] == 0
               for q in s.values())


def _recover(conn: redis.Redis) -> None:
    """What a live worker's maintenance and scheduler do after a crash, without the wait:
    the dead worker's jobs are abandoned (and retried), retries due now are queued."""
    for q in jobs.job_queues(conn):
        q.started_job_registry.cleanup(timestamp=time.time() + 120)
        for jid in q.scheduled_job_registry.get_job_ids():
            q.scheduled_job_registry.requeue(jid)


def test_worker_sigkilled_mid_job_three_times_loses_and_duplicates_nothing(
        stack: Stack, conn: redis.Redis) -> None:
    stack.drain()                               # earlier tests' jobs out of the way
    sids: list[str] = []
    for _ in range(8):                          # "other" capture, a person, answered
        c = TwilioCaller(http_transport(), base=stack.base)
        c.dial()
        c.press("9")
        c.say("I found someone's card on the bus")
        assert dialled(c.last.text) == HUMAN  # type: ignore[union-attr]
        c.answered("completed")
        check_twiml(c.last.text, ended=True)  # type: ignore[union-attr]
        sids.append(c.sid)
    STATS["calls"] += len(sids)
    STATS["reached_human"] += len(sids)
    ivr_q = jobs.job_queues(conn)[0]
    # each call's jobs reach RQ once its last response has been sent (the outbox drain)
    wait_for(lambda: ivr_q.count >= 2 * len(sids), 10, "the calls' jobs in RQ")
    kills = 0
    killed_mid_job: list[str] = []
    for _ in range(3):
        proc = stack.worker(slow=True)
        try:
            wait_for(lambda: ivr_q.started_job_registry.get_job_ids(), 30, "a started job")
            time.sleep(0.25)                    # inside the job's pause, rows half written
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        kills += 1
        STATS["attacks"] += 1
        hit = ivr_q.started_job_registry.get_job_ids()   # the job the horse was running
        assert len(hit) == 1 and _job(conn, hit[0]).get_status() == JobStatus.STARTED
        _recover(conn)
        job = _job(conn, hit[0])
        assert job.get_status() == JobStatus.QUEUED and (job.retries_left or 0) < 3
        killed_mid_job.append(hit[0])
    assert kills == 3
    for _ in range(5):                          # then workers as usual until all is done
        stack.drain()
        _recover(conn)
        if _queues_idle(conn):
            break
    assert _queues_idle(conn), worker.stats(conn)
    mine = [f for f in worker.failed(conn) if f["id"].split("-")[0] in sids]
    assert mine == []
    archive = Archive(stack.archive)
    store = Store(conn)
    lost = dup = 0
    for sid in sids:
        call = archive.call(sid)
        if call is None:
            lost += 1
            continue
        turns = [t["turn"] for t in call["turns"]]
        expected = [x["turn"] for x in store.transcript(sid)]
        lost += len(set(expected) - set(turns))
        dup += len(turns) - len(set(turns))
    inbox = {i["sid"]: i for i in archive.inbox() if i["sid"] in sids}
    lost += len(set(sids) - set(inbox))
    dup += sum(i["said"].count("found someone's card") - 1 for i in inbox.values())
    STATS["records_lost"] += lost
    STATS["duplicates"] += dup
    assert (lost, dup) == (0, 0)
    assert all(i["said"] == "I found someone's card on the bus" for i in inbox.values())
    assert len(killed_mid_job) == 3
    assert all(_job(conn, j).get_status() == JobStatus.FINISHED for j in killed_mid_job)


def _job(conn: redis.Redis, jid: str) -> RQJob:
    return RQJob.fetch(jid, connection=conn, serializer=JSONSerializer)


def test_redis_restarted_empty_new_calls_still_work(stack: Stack, conn: redis.Redis) -> None:
    from ivr.config import load_settings
    from ivr.server.registry import reload_flows

    conn.flushall()                             # what a restart without AOF/RDB leaves
    try:
        c = TwilioCaller(http_transport(), base=stack.base)
        c.dial()
        STATS["attacks"] += 1
        assert c.last is not None and c.last.status == 200
        assert EMERGENCY not in c.last.text, c.last.text
    finally:
        reload_flows(load_settings(str(stack.config), {"redis_url": stack.redis_url}),
                     Store(conn))
