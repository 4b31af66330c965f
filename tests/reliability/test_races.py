"""1,000 calls whose hang-up (the status callback) races a Dial or Record action of the same
turn, over real HTTP to gunicorn (2 workers, so the two requests really run at once) with
the stack's Redis: every call ends, and a real RQ worker archives each exactly once with
the outcome it ended with.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from ivr.config import Settings
from ivr.jobs import enqueue as jobs
from ivr.jobs import outbox, tasks
from ivr.jobs.archive import Archive
from ivr.store.calls import Store
from tests.reliability.harness import STATS, Stack, check_twiml
from tests.twilio_caller import Reply, TwilioCaller, http_transport

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.redis]
CALLS = 1000
DRIVERS = 8
DIAL_RESULTS = ("completed", "no-answer", "busy")


def race(c: TwilioCaller, action: Callable[[], Reply]) -> tuple[Reply, Reply]:
    """The action and the status callback of one turn, released at the same instant."""
    gate = threading.Barrier(2)
    got: dict[str, Reply] = {}

    def status() -> None:
        gate.wait()
        got["status"] = c.hangup()

    helper = threading.Thread(target=status)
    helper.start()
    gate.wait()
    got["action"] = action()
    helper.join(30)
    return got["action"], got["status"]


def one_call(stack: Stack, n: int) -> tuple[str, str]:
    """Call ``n``: to the person, then Dial's result (or, every third call, after nobody
    answered and the caller let the callback offer pass, the voicemail recording) races the
    caller's hang-up."""
    c = TwilioCaller(http_transport(timeout=30), base=stack.base)
    c.dial()
    c.press("0")
    assert c.dialled, c.last
    if n % 3 == 2:
        c.answered("no-answer")                   # the callback offer...
        c.silence()                               # ... declined by waiting: the voicemail
        kind, record = "record", c.action("Record")
        params = c.params(RecordingUrl=f"https://api.twilio.com/r/RE{n}",
                          RecordingDuration="7", RecordingSid=f"RE{n:032d}")
        replies = race(c, lambda: c.post(record, params))
    else:
        kind, dial = f"dial-{DIAL_RESULTS[n % 3]}", c.action("Dial")
        params = c.params(DialCallStatus=DIAL_RESULTS[n % 3])
        replies = race(c, lambda: c.post(dial, params))
    for reply in replies:
        assert reply.status == 200, reply.text[:300]
    if len(check_twiml(replies[0].text, "status")):   # empty: the hang-up won, nobody listens
        check_twiml(replies[0].text, ended=True)
    return c.sid, kind


def place_all(stack: Stack) -> list[tuple[str, str]]:
    todo: queue.Queue[int] = queue.Queue()
    for n in range(CALLS):
        todo.put(n)
    done: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def driver() -> None:
        while not errors:
            try:
                n = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.append(one_call(stack, n))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

    threads = [threading.Thread(target=driver) for _ in range(DRIVERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors[:3]
    return done


def who_won(lines: list[dict[str, object]], kind: str) -> str:
    """Which order the race went in, from the transcript lines after the call's setup."""
    setup = 4 if kind == "record" else 2        # start, 0 (, no answer, the offer's silence)
    kinds = [str(x.get("heard", {}).get("kind")) for x in lines]  # type: ignore[union-attr]
    action = any(k in ("dial_result", "recording") for k in kinds[setup:])
    if action and kinds[-1] == "hangup":
        return "action first, hang-up applied after it"
    if action:
        return "action ended the call, hang-up had nothing to do"
    return "hang-up first, action served the stored TwiML"


def work_burst(conn: redis.Redis, archive: Path) -> None:
    """What ``ivr worker --burst`` does (outboxes first, then the queues), in this process
    with rq's SimpleWorker so 1,000 calls do not pay a fork per job."""
    tasks.configure(Settings(archive_path=str(archive), job_retry_intervals=[0]))
    try:
        outbox.drain_pending(conn)
        SimpleWorker(jobs.job_queues(conn), connection=conn,
                     serializer=JSONSerializer).work(burst=True)
    finally:
        tasks.configure(None)


@pytest.fixture(scope="module")
def fast_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own whose Redis fsyncs its append-only file once a second (this test
    does not kill Redis; the suite's stack fsyncs every write and is 3x slower here)."""
    s = Stack(tmp_path_factory.mktemp("races"), fsync="everysec")
    try:
        s.start()
        yield s
    finally:
        s.close()


def test_hangups_racing_dial_and_record_actions_end_and_archive_every_call_once(
        fast_stack: Stack, tmp_path: Path) -> None:
    stack, conn = fast_stack, fast_stack.conn()
    started = time.monotonic()
    calls = place_all(stack)
    placed = time.monotonic() - started
    assert len(calls) == CALLS
    STATS["calls"] += CALLS
    store = Store(conn)
    finals = {sid: store.load(sid) for sid, _ in calls}
    assert [sid for sid, call in finals.items() if call is None or not call.ended] == []
    archive_path = tmp_path / "races.db"
    started = time.monotonic()
    work_burst(conn, archive_path)
    archived = time.monotonic() - started
    archive = Archive(archive_path)
    order: Counter[str] = Counter()
    lost = dup = wrong = 0
    finished = {j.decode().split(":", 2)[2] for j in conn.scan_iter("rq:job:*-record")}
    for sid, kind in calls:
        final = finals[sid]
        assert final is not None
        row = archive.call(sid)
        if row is None:
            lost += 1
            continue
        wrong += row["outcome"] != final.outcome
        lines = store.transcript(sid)
        dup += len({t["turn"] for t in row["turns"]}) != len(row["turns"])
        lost += [t["turn"] for t in row["turns"]] != [x["turn"] for x in lines]
        # one call_end job; a message recorded as the caller hung up, applied after the
        # hang-up, archives the call again with its final outcome (voicemail): an upsert
        late = sum(1 for t in lines if t["from"] == "__end__" and t["heard"]["kind"] ==
                   "recording" and t["heard"].get("seconds"))
        dup += sum(1 for j in finished if j.startswith(sid)) - 1 - late
        order[f"{kind}: {who_won(lines, kind)}"] += 1
    STATS["records_lost"] += lost
    STATS["duplicates"] += dup
    STATS["race: seconds to place the calls"] = int(placed)
    STATS["race: seconds to archive them"] = int(archived)
    for label, count in sorted(order.items()):
        STATS[f"race {label}"] = count
    assert (lost, dup, wrong) == (0, 0, 0)
    # both orders happened: the hang-up that lost to a Dial result was applied after it
    assert order["dial-no-answer: action first, hang-up applied after it"] > 0, order
    assert order["dial-no-answer: hang-up first, action served the stored TwiML"] > 0, order
    assert archive.counts()["calls"] == CALLS
    outcomes = Counter(archive.call(sid)["outcome"] for sid, _ in calls)  # type: ignore[index]
    assert set(outcomes) <= {"human", "voicemail", "hangup", "completed", "callback"}, outcomes
