"""gunicorn workers SIGKILLed at every point of a turn, over 1,000 calls: no job is lost and
none is doubled in the archive.

The kills come from the test side (``killpoints.py``, a gunicorn config whose ``post_fork``
wraps the store and the drainer): after the turn's read, after its commit (before the
TwiML is sent) and in the middle of the outbox drain (an entry in RQ, not yet removed).
A caller whose request died retries it, as Twilio does with a connection override; the
arbiter forks a new worker. Then the outboxes are swept and a real RQ worker runs the jobs.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
import urllib.error
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from rq import SimpleWorker
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from ivr.config import Settings
from ivr.jobs import enqueue as jobs
from ivr.jobs import outbox, tasks
from ivr.jobs.archive import Archive
from ivr.store.calls import Store
from ivr.store.keys import OUTBOX, OUTBOXES
from tests.reliability.harness import HUMAN, STATS, Stack, check_twiml, dialled
from tests.twilio_caller import Reply, Transport, TwilioCaller, http_transport

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.redis]
CALLS = 1000
DRIVERS = 6
KILLPOINTS = Path(__file__).with_name("killpoints.py")
CHANCE = {"KILLPOINT_AFTER_READ": "0.006", "KILLPOINT_AFTER_COMMIT": "0.006",
          "KILLPOINT_MID_DRAIN": "0.02"}
DIED = (ConnectionError, http.client.HTTPException, urllib.error.URLError, TimeoutError)


@pytest.fixture(scope="module")
def killing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("kills"), fsync="everysec")
    s.extra_env = {**CHANCE, "KILLPOINT_LOG": str(s.tmp / "kills.log"), "KILLPOINT_SEED": "13"}
    try:
        s.start_redis()
        s.start_web("-c", str(KILLPOINTS))
        yield s
    finally:
        s.close()


def retrying(send: Transport, retried: Counter[str]) -> Transport:
    """The same webhook again when the worker died under it (up to 10 times)."""

    def again(url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        for _ in range(10):
            try:
                return send(url, data, headers)
            except DIED:
                retried["requests"] += 1
                time.sleep(0.02)
        return send(url, data, headers)

    return again


def one_call(stack: Stack, n: int, retried: Counter[str]) -> tuple[str, str]:
    """Call ``n``: an "other" capture (inbox job) then a person; every fourth call nobody
    answers and the caller leaves a voicemail (callback job). Every call ends (call_end)."""
    c = TwilioCaller(retrying(http_transport(timeout=30), retried), base=stack.base)
    c.dial()
    if n % 4 == 3:
        c.press("0")
        c.answered("no-answer")                   # the callback offer: let it pass
        c.silence()
        c.record(f"https://api.twilio.com/r/RE{n}", 9)
        kind = "voicemail"
    else:
        c.press("9")
        c.say(f"I found card number {n} on the bus")
        assert dialled(c.last.text) == HUMAN, c.last  # type: ignore[union-attr]
        c.answered("completed")
        kind = "capture"
    check_twiml(c.last.text, ended=True)  # type: ignore[union-attr]
    assert c.hangup().status == 200
    return c.sid, kind


def place_all(stack: Stack) -> tuple[list[tuple[str, str]], Counter[str]]:
    todo: queue.Queue[int] = queue.Queue()
    for n in range(CALLS):
        todo.put(n)
    done: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    retried: Counter[str] = Counter()

    def driver() -> None:
        while not errors:
            try:
                n = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.append(one_call(stack, n, retried))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

    threads = [threading.Thread(target=driver) for _ in range(DRIVERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors[:3]
    return done, retried


def expected_jobs(sid: str, kind: str, store: Store) -> set[str]:
    """The RQ jobs call ``sid`` must have led to: exactly these, each once."""
    lines = store.transcript(sid)
    end = next(x["turn"] for x in lines if x["to"] == "__end__")
    if kind == "capture":
        capture = next(x["turn"] for x in lines if x["from"] == "other")
        return {f"{sid}-t{capture}-0-inbox", f"{sid}-t{capture}-0-notify-inbox",
                f"{sid}-t{end}-0-record"}
    saved = next(x["turn"] for x in lines if x["heard"]["kind"] == "recording")
    return {f"{sid}-t{saved}-0-callback", f"{sid}-t{saved}-0-notify-callback",
            f"{sid}-t{end}-{1 if saved == end else 0}-record"}


def test_workers_killed_at_every_point_of_a_turn_lose_and_double_nothing(
        killing_stack: Stack, tmp_path: Path) -> None:
    stack, conn = killing_stack, killing_stack.conn()
    started = time.monotonic()
    calls, retried = place_all(stack)
    placed = time.monotonic() - started
    kills = Counter(line.split()[0] for line in (stack.tmp / "kills.log").read_text().split("\n")
                    if line)
    STATS["calls"] += len(calls)
    STATS["reached_human"] += sum(kind == "capture" for _, kind in calls)
    for point in ("after-read", "after-commit", "mid-drain"):
        STATS[f"gunicorn workers SIGKILLed {point}"] = kills[point]
        STATS["attacks"] += kills[point]
    STATS["webhooks retried after a kill"] = retried["requests"]
    left = sum(1 for _ in conn.scan_iter(OUTBOX.format("*")))
    STATS["outboxes left for the worker's sweep"] = left
    archive_path = tmp_path / "kills.db"
    started = time.monotonic()
    tasks.configure(Settings(archive_path=str(archive_path), job_retry_intervals=[0]))
    try:
        outbox.drain_pending(conn)                # what `ivr worker` does at start
        SimpleWorker(jobs.job_queues(conn), connection=conn,
                     serializer=JSONSerializer).work(burst=True)
    finally:
        tasks.configure(None)
    STATS["kill test: seconds to place the calls"] = int(placed)
    STATS["kill test: seconds to archive them"] = int(time.monotonic() - started)
    store, archive = Store(conn), Archive(archive_path)
    ids = {k.decode().split(":", 2)[2] for k in conn.scan_iter("rq:job:*")}
    lost = dup = 0
    for sid, kind in calls:
        want = expected_jobs(sid, kind, store)
        mine = {i for i in ids if i.startswith(sid)}
        lost += len(want - mine)
        dup += len(mine - want)                   # a job of the call under another id
        lost += sum(RQJob.fetch(j, connection=conn, serializer=JSONSerializer).get_status()
                    != "finished" for j in want & mine)
        row = archive.call(sid)
        if row is None:
            lost += 1
            continue
        turns = [t["turn"] for t in row["turns"]]
        lost += len({x["turn"] for x in store.transcript(sid)} - set(turns))
        dup += len(turns) - len(set(turns))
    inbox = {i["sid"]: i["said"] for i in archive.inbox()}
    said = {sid: inbox.get(sid) for sid, kind in calls if kind == "capture"}
    lost += sum(v is None for v in said.values())
    dup += sum(1 for v in said.values() if v is not None and v.count("on the bus") != 1)
    callbacks = {c["sid"] for c in archive.callbacks()}
    lost += sum(1 for sid, kind in calls if kind == "voicemail" and sid not in callbacks)
    STATS["records_lost"] += lost
    STATS["duplicates"] += dup
    assert (lost, dup) == (0, 0)
    assert archive.counts()["calls"] == CALLS
    assert not any(True for _ in conn.scan_iter(OUTBOX.format("*"))) and not conn.zcard(OUTBOXES)
    assert min(kills["after-read"], kills["after-commit"], kills["mid-drain"]) >= 3, kills
