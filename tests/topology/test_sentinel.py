"""Call state on a Sentinel-managed Redis (one primary, one replica, three Sentinels),
jobs on their own Redis with a real RQ worker: the primary SIGKILLed in the middle of a
burst of calls through gunicorn."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from ivr.jobs.archive import Archive
from ivr.store.calls import Store
from tests.reliability.harness import EMERGENCY, HUMAN, Stack, check_twiml, dialled
from tests.topology.servers import Cluster, SentinelSet
from tests.twilio_caller import Reply, TwilioCaller, http_transport

pytestmark = [pytest.mark.redis, pytest.mark.slow]
SCRIPT = ["2", "12345", "0"]  # balance, PIN, then a person


@dataclass
class Call:
    began: float
    sid: str = ""
    replies: list[Reply] = field(default_factory=list)

    @property
    def number(self) -> str:
        return dialled(self.replies[-1].text) if self.replies else ""


def place(stack: Stack) -> Call:
    """One caller: the script, then "0" again while nobody is dialled (a repeated prompt
    after a failover), then the call ends (the Dial's result, the status callback)."""
    c = TwilioCaller(http_transport(timeout=15), base=stack.base)
    call = Call(time.monotonic(), c.sid)
    call.replies.append(c.dial())
    for keys in [*SCRIPT, "0", "0"]:
        if dialled(call.replies[-1].text):
            break
        call.replies.append(c.press(keys))
    if call.number == HUMAN:
        c.answered("completed")
    assert c.hangup().status == 200
    return call


def start_worker(stack: Stack, *extra: str) -> subprocess.Popen[bytes]:
    """``ivr worker`` with the stack's environment (the Sentinels for call state, the jobs
    Redis for RQ), no --redis-url."""
    log = stack.worker_log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ivr.cli import main; main()", "worker", "-c",
         str(stack.config), "--archive", str(stack.archive), *extra],
        cwd=stack.tmp, env=stack.env(), stdout=log, stderr=log, start_new_session=True)
    stack.workers.append(proc)
    return proc


def test_jobs_on_a_sentinel_master_and_calls_on_a_cluster(
        sentinels: SentinelSet, fresh_cluster: Cluster, tmp_path: Path) -> None:
    """``jobs_redis_sentinels``: RQ on a Sentinel-managed Redis, call state on the
    cluster; the web drains the outboxes into it and a real worker archives the calls."""
    from ivr.jobs.worker import connect as jobs_connect
    from ivr.jobs.worker import connect_calls, run_worker
    from ivr.server.context import settings_of, store_of
    from tests.topology.test_cluster import call_through, cluster_app
    from tests.twilio_caller import flask_transport

    jobs = redis.Redis(port=sentinels.master_port())
    jobs.flushall()
    app = cluster_app(fresh_cluster, "", jobs_redis_sentinels=sentinels.sentinels,
                      jobs_redis_sentinel_master=sentinels.MASTER,
                      archive_path=str(tmp_path / "archive.db"))
    sids = []
    for _ in range(3):
        caller = TwilioCaller(flask_transport(app.test_client()))
        assert call_through(caller) == HUMAN
        caller.answered("completed")
        caller.hangup()
        sids.append(caller.sid)
    assert any(jobs.scan_iter("rq:*")) and not any(store_of(app).conn.scan_iter("rq:*"))
    settings = settings_of(app)
    run_worker(jobs_connect(None, settings), settings, burst=True,
               calls=connect_calls(None, settings))
    archive = Archive(settings.archive_path)
    assert all((archive.call(sid) or {}).get("outcome") == "human" for sid in sids)


def test_a_primary_killed_mid_burst(sentinels: SentinelSet, jobs_redis: str,
                                    tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    stack.redis_url = jobs_redis
    stack.extra_env = {"IVR_REDIS_URL": "", "IVR_REDIS_SENTINELS": ",".join(
        sentinels.sentinels), "IVR_REDIS_SENTINEL_MASTER": sentinels.MASTER,
        "IVR_JOBS_REDIS_URL": jobs_redis, "IVR_REDIS_TIMEOUT": "0.5"}
    calls: list[Call] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def loop() -> None:
        try:
            while not done.is_set():
                calls.append(place(stack))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        stack.start_web()
        start_worker(stack)
        threads = [threading.Thread(target=loop) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        old = sentinels.master_port()
        killed = time.monotonic()
        sentinels.kill(old)
        new = sentinels.wait_failover(old)
        promoted = time.monotonic()
        time.sleep(3.0)
        done.set()
        for t in threads:
            t.join(60)
        assert not errors, errors[:3]
        judge(calls, killed, promoted + 0.5, new)
        drained = start_worker(stack, "--burst")
        assert drained.wait(90) == 0, stack.worker_log.read_text()[-3000:]
        archived(stack, calls, killed, promoted + 0.5, new)
    finally:
        stack.close()


def judge(calls: list[Call], killed: float, settled: float, new_port: int) -> None:
    """Every caller reached a person; the emergency dial only around the failover."""
    for call in calls:
        for r in call.replies:
            assert r.status == 200, r.text[:300]
            check_twiml(r.text)
        assert call.number in (HUMAN, EMERGENCY), call.replies[-1].text
    before = [c for c in calls if c.began < killed - 0.5]
    after = [c for c in calls if c.began > settled]
    emergency = [c for c in calls if c.number == EMERGENCY]
    assert before and after and len(calls) > 30, (len(before), len(after), len(calls))
    assert all(c.number == HUMAN for c in after), [c.sid for c in after
                                                   if c.number != HUMAN]
    assert emergency, "nobody was caught by the failover: the kill came too late?"
    print(f"\nsentinel failover: {len(calls)} calls, {len(emergency)} emergency dials, "
          f"{len(after)} after the new primary (:{new_port})")


def archived(stack: Stack, calls: list[Call], killed: float, settled: float,
             new_port: int) -> None:
    """Nothing lost or doubled: every call the new primary saw end is archived once, with
    each turn once; every call that began after the failover is among them."""
    archive = Archive(str(stack.archive))
    store = Store(redis.Redis(port=new_port))
    ended = [c for c in calls if (s := store.load(c.sid)) is not None and s.ended]
    assert {c.sid for c in calls if c.began > settled} <= {c.sid for c in ended}
    for call in ended:
        got = archive.call(call.sid)
        assert got is not None, f"{call.sid} lost"
        turns = [t["turn"] for t in got["turns"]]
        assert turns == sorted(set(turns)), f"{call.sid} doubled: {turns}"
        assert len(turns) == len(store.transcript(call.sid)), call.sid
