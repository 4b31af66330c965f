"""Call state on a real 3-primary Redis Cluster, jobs on their own Redis: calls over the
Flask test client and through gunicorn, and a node SIGKILLed mid-call."""

from __future__ import annotations

import tempfile
import threading
import time
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue
from rq.serializers import JSONSerializer

from ivr.app import create_app
from ivr.jobs.enqueue import JOB_QUEUE
from ivr.jobs.worker import connect as jobs_connect
from ivr.jobs.worker import connect_calls, run_worker
from ivr.server.context import settings_of, store_of
from ivr.store import live
from ivr.store.keys import CALL, CURRENT, FLOW, OUTBOX
from tests.conftest import ROOT
from tests.reliability.harness import EMERGENCY, HUMAN, Stack, check_twiml, dialled
from tests.topology.servers import Cluster
from tests.twilio_caller import TOKEN, TwilioCaller, flask_transport, http_transport

pytestmark = [pytest.mark.redis, pytest.mark.slow]
CLOCK = "2026-11-20T14:05:00-05:00"
SCRIPT = ["2", "12345", "0"]  # balance, PIN, then a person


def cluster_app(cluster: Cluster, jobs_url: str, **extra: Any) -> Flask:
    conf: dict[str, Any] = {
        "redis_cluster": True, "redis_cluster_nodes": cluster.nodes,
        "jobs_redis_url": jobs_url, "flows_dir": str(ROOT / "flows"), "clock": CLOCK,
        "emergency_number": EMERGENCY, "twilio": {"auth_token": TOKEN},
        "spool_dir": tempfile.mkdtemp(prefix="ivr-spool-"), "redis_timeout": 0.5,
        "archive_path": tempfile.mktemp(prefix="ivr-archive-", suffix=".db"),
        "TESTING": True, **extra}
    return create_app(conf)


def call_through(caller: TwilioCaller, script: list[str] = SCRIPT) -> str:
    """Dial, press through ``script`` until someone is dialled; the number dialled."""
    reply = caller.dial()
    for keys in script:
        check_twiml(reply.text)
        if dialled(reply.text):
            break
        reply = caller.press(keys)
    assert reply.status == 200
    check_twiml(reply.text)
    return dialled(reply.text)


def sids_on(cluster: Cluster, port: int, count: int, start: int = 0) -> list[str]:
    """``count`` CallSids whose keys live on the primary at ``port``."""
    out: list[str] = []
    i = start
    while len(out) < count:
        sid = f"CA{i:032x}"
        if cluster.port_of(CALL.format(sid)) == port:
            out.append(sid)
        i += 1
    return out


def test_calls_over_flask_on_a_cluster(fresh_cluster: Cluster, jobs_redis: str) -> None:
    app = cluster_app(fresh_cluster, jobs_redis)
    store, client = store_of(app), app.test_client()
    sids = []
    for _ in range(9):
        caller = TwilioCaller(flask_transport(client))
        assert call_through(caller) == HUMAN
        caller.answered("completed")
        caller.hangup()
        sids.append(caller.sid)
    conn = store.conn
    assert len({fresh_cluster.port_of(CALL.format(s)) for s in sids}) > 1  # spread out
    for sid in sids:
        call = store.load(sid)
        assert call is not None and call.ended
        assert len(store.transcript(sid)) >= 4 and not conn.exists(OUTBOX.format(sid))
    jobs = redis.Redis.from_url(jobs_redis)
    assert Queue(JOB_QUEUE, connection=jobs, serializer=JSONSerializer).count >= len(sids)
    assert not list(conn.scan_iter("rq:*"))  # RQ never touched the cluster
    assert live.members(conn, False, 100) == []  # ended: out of the live index
    assert set(live.members(conn, True, 100)) == set(sids)
    assert store.current("card-services") and fresh_cluster.port_of(
        FLOW.format("card-services", CURRENT))
    # a real RQ worker on the jobs Redis reads the calls from the cluster and archives them
    settings = settings_of(app)
    assert run_worker(jobs_connect(None, settings), settings, burst=True,
                      calls=connect_calls(None, settings))
    from ivr.jobs.archive import Archive

    archive = Archive(settings.archive_path)
    for sid in sids:
        got = archive.call(sid)
        assert got is not None and got["outcome"], sid
        assert [t["turn"] for t in got["turns"]] == sorted({t["turn"] for t in got["turns"]})


def test_a_burst_through_gunicorn_on_a_cluster(fresh_cluster: Cluster, jobs_redis: str,
                                               tmp_path: Any) -> None:
    stack = Stack(tmp_path)
    stack.redis_url = jobs_redis  # the stack's "Redis" is the jobs Redis here
    stack.extra_env = {"IVR_REDIS_CLUSTER": "true",
                       "IVR_REDIS_CLUSTER_NODES": ",".join(fresh_cluster.nodes),
                       "IVR_JOBS_REDIS_URL": jobs_redis, "IVR_REDIS_URL": ""}
    try:
        stack.start_web()
        results: list[tuple[str, str]] = []
        errors: list[BaseException] = []

        def caller_loop() -> None:
            try:
                for _ in range(10):
                    c = TwilioCaller(http_transport(timeout=15), base=stack.base)
                    number = call_through(c)
                    c.answered("completed")
                    assert c.hangup().status == 200
                    results.append((c.sid, number))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=caller_loop) for _ in range(4)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        took = time.monotonic() - started
        assert not errors, errors[:3]
        assert len(results) == 40 and {n for _, n in results} == {HUMAN}, took
        worker = stack.worker("--burst")
        assert worker.wait(90) == 0, stack.worker_log.read_text()[-3000:]
        from ivr.jobs.archive import Archive

        archive = Archive(str(stack.archive))
        for sid, _ in results:
            got = archive.call(sid)
            assert got is not None and got["outcome"] == "human", sid
        log = stack.web_log.read_text() + stack.worker_log.read_text()
        assert "CROSSSLOT" not in log and "Traceback" not in log, log[-3000:]
    finally:
        stack.close()


def test_a_killed_node_sends_only_its_callers_to_a_person_by_the_emergency_dial(
        tmp_path: Any, jobs_redis: str) -> None:
    """SIGKILL the primary that holds some calls AND the flow's current pointer: its
    callers get the emergency dial at once; callers whose calls live on the other nodes
    go on as if nothing happened, new calls there too."""
    doomed_cluster = Cluster(tmp_path / "doomed")
    try:
        doomed_cluster.up()
        app = cluster_app(doomed_cluster, jobs_redis)
        client = app.test_client()
        victim = doomed_cluster.port_of(FLOW.format("card-services", CURRENT))
        others = [p for p in doomed_cluster.ports if p != victim]

        def callers(ports: list[int], n: int, start: int) -> list[TwilioCaller]:
            return [TwilioCaller(flask_transport(client), sid=s) for p in ports
                    for s in sids_on(doomed_cluster, p, n, start)]

        doomed, safe = callers([victim], 3, 0), callers(others, 2, 0)
        late_doomed, late_safe = callers([victim], 1, 10_000), callers(others, 2, 10_000)
        for caller in doomed + safe:  # mid-call: at the menu, then asked for the PIN
            assert not dialled(caller.dial().text) and not dialled(caller.press("2").text)
        assert client.get("/healthz").get_json()["redis"] == "ok"
        doomed_cluster.kill(victim)
        health = client.get("/healthz")  # still serving the other nodes' calls: ready
        assert health.status_code == 200 and f":{victim} down" in health.get_json()["redis"]
        slowest = 0.0
        for caller in doomed:
            began = time.monotonic()
            reply = caller.press("12345")
            slowest = max(slowest, time.monotonic() - began)
            check_twiml(reply.text)
            assert dialled(reply.text) == EMERGENCY
        assert slowest < 3.0, f"the emergency dial took {slowest:.2f} s"
        for caller in safe:
            assert not dialled(caller.press("12345").text)
            reply = caller.press("0")
            check_twiml(reply.text)
            assert dialled(reply.text) == HUMAN, reply.text
        for caller in late_safe:  # new calls: the pointer's node is gone, the call's is not
            assert call_through(caller) == HUMAN
        for caller in late_doomed:
            assert call_through(caller) == EMERGENCY
    finally:
        doomed_cluster.close()


def test_the_ops_console_on_a_cluster(fresh_cluster: Cluster, jobs_redis: str) -> None:
    """Login throttling, a publish (WATCH/MULTI of the flow's keys) and the live-call page
    work on the cluster: every multi-key command stays in one slot."""
    from ivr.app import create_app as full_app
    from tests.ops.test_ops import FLOW, TEXT, USERS, edited, login, publish, token

    app = full_app({"redis_cluster": True, "redis_cluster_nodes": fresh_cluster.nodes,
                    "jobs_redis_url": jobs_redis, "flows_dir": str(ROOT / "flows"),
                    "clock": CLOCK, "emergency_number": EMERGENCY,
                    "validate_signatures": False, "TESTING": True, "OPS_USERS": USERS,
                    "SECRET_KEY": "test-secret",
                    "spool_dir": tempfile.mkdtemp(prefix="ivr-spool-")})
    client = app.test_client()
    bad = client.post("/ops/login", data={"username": "alice", "password": "nope",
                                          "csrf_token": token(client)})
    assert bad.status_code == 401  # refused, and counted (one MGET, one slot)
    assert any(k.startswith(b"ivr:ops:login:") for k in store_of(app).conn.scan_iter(
        "ivr:ops:login:*"))
    tok = login(client)
    store = store_of(app)
    before = store.current(FLOW)
    resp = publish(client, tok, edited(TEXT), before or "")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert store.current(FLOW) != before
    caller = TwilioCaller(flask_transport(app.test_client()))
    caller.dial()
    page = client.get("/ops/calls").get_data(as_text=True)
    assert caller.sid[-10:] in page and "1 active" in page
    assert f"/ops/flows/{FLOW}" in client.get("/ops/flows").get_data(as_text=True)
