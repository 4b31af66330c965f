"""Waiting in a queue: honest estimates, the wait TwiML (golden), the callback choice over
signed webhooks, and the callback job on a real RQ worker in dry-run mode."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from ivr.config import Settings, TwilioSettings
from ivr.flowlang.catalog import Catalog, check_text
from ivr.flowlang.checks.gethuman import check_gethuman
from ivr.flowlang.machine import Compiled
from ivr.jobs import enqueue as jobs
from ivr.jobs import tasks
from ivr.jobs.callbacks import DRY_LIST
from ivr.runtime import waiting as queue
from ivr.runtime.actions import (
    Action,
    Enqueue,
    Gather,
    Hangup,
    Job,
    Leave,
    Pause,
    Play,
    Redirect,
    Say,
    spoken,
)
from ivr.runtime.engine import step
from ivr.runtime.events import MAX_SECONDS, CallState, Event, EventKind, QueueStatus
from ivr.runtime.work import Options
from ivr.store.calls import Store
from ivr.telephony import twiml
from ivr.telephony.params import queue_number, queue_status
from tests.server.test_web import make_app
from tests.twilio_caller import CALLER, TwilioCaller, flask_transport

GOLDEN = Path(__file__).parent.parent / "golden"
ROOT = "https://ivr.example.com/voice/clinic-appointments"
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC) + timedelta(hours=6)   # open
OPTIONS = Options()


# --- estimates ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw,value", [("5", 5), (" 7 ", 7), ("3.9", 3), ("", 0), (None, 0),
                                       ("-4", 0), ("abc", 0), ("1e9", 0), ("NaN", 0),
                                       ("99999999999", 0), ("86401", 0), ("0x10", 0)])
def test_twilio_numbers_garbage_is_unknown(raw: str | None, value: int) -> None:
    assert queue_number(raw) == value


@pytest.mark.parametrize("seconds,words", [
    (0, "less than a minute"), (59, "less than a minute"), (75, "about a minute"),
    (120, "about 2 minutes"), (600, "about 10 minutes"), (14 * 60, "about 15 minutes"),
    (30 * 60, "about 30 minutes"), (31 * 60, "more than 30 minutes"),
    (10**9, "more than 30 minutes")])
def test_waits_in_friendly_words(seconds: int, words: str) -> None:
    assert queue.in_words(seconds) == words


def test_estimate_uses_twilio_average_or_two_minutes_per_caller() -> None:
    assert QueueStatus(position=1).expected == 120
    assert QueueStatus(position=5, average=120).expected == 600
    assert QueueStatus(position=3, average=30).expected == 90
    assert QueueStatus().expected == 120          # position unknown: as if next
    assert QueueStatus(position=10_000, average=86_400).expected == MAX_SECONDS


def test_promises_are_never_too_soon_and_stay_honest() -> None:
    assert queue.promise_words(10) == "in about 5 minutes"
    assert queue.promise_words(20 * 60) == "in about 20 minutes"
    assert queue.promise_words(50 * 60) == "within the hour"
    assert queue.promise_words(5 * 3600) == "within about 5 hours"
    assert queue.callback_at(0) == queue.MIN_CALLBACK


def test_offer_at_once_when_long_then_every_m_minutes() -> None:
    cfg = Options(offer_every=5, offer_threshold=10)
    assert not queue.should_offer(QueueStatus(position=2), None, cfg)
    assert queue.should_offer(QueueStatus(position=40), None, cfg)
    assert queue.should_offer(QueueStatus(position=2, waited=305), 290, cfg)
    assert not queue.should_offer(QueueStatus(position=2, waited=340), 305, cfg)
    never = Options(offer_every=0, offer_threshold=0)
    assert not queue.should_offer(QueueStatus(position=99, waited=3600), 0, never)


# --- the wait document (golden) -------------------------------------------------------------

def waiting_call(c: Compiled, last: int | None = None) -> CallState:
    """A clinic call that pressed 0 and is in the queue (optionally after one tick at
    QueueTime ``last``)."""
    state, _ = step(c, CallState("CA1", c.flow.id, c.flow.version, caller=CALLER),
                    Event.start(NOW))
    state, actions = step(c, state, Event.press("0", NOW))
    assert isinstance(actions[-1], Enqueue) and state.state == "human"
    if last is not None:
        state, _ = step(c, state, Event.tick(QueueStatus(position=9, waited=last), NOW))
    return state


def urls_for(call: CallState) -> dict[str, str]:
    wait = f"{ROOT}/wait?e={{}}&turn={call.turn}"
    return {"wait": wait.format("wait"), "turn": wait.format("turn"),
            "no_input": wait.format("no_input"), "dial": f"{ROOT}/event?e=dial&turn=2"}


CASES: dict[str, tuple[dict[str, str], int | None, Options]] = {
    "first-unknown-average": ({"QueuePosition": "1", "AvgQueueTime": "0", "QueueTime": "0"},
                              None, OPTIONS),
    "fifth-120s-hold-music": ({"QueuePosition": "5", "AvgQueueTime": "120",
                               "QueueTime": "30", "CurrentQueueSize": "9"}, 0,
                              Options("https://cdn.example.com/hold.mp3", 5, 10)),
    "fortieth-offer-at-once": ({"QueuePosition": "40", "AvgQueueTime": "95"}, None, OPTIONS),
    "periodic-offer": ({"QueuePosition": "3", "AvgQueueTime": "60", "QueueTime": "302"},
                       290, OPTIONS),
    "garbage": ({"QueuePosition": "-3", "AvgQueueTime": "lots", "QueueTime": "1e99",
                 "CurrentQueueSize": "\x00"}, None, OPTIONS),
}


def wait_doc(catalog: Catalog, name: str) -> tuple[CallState, list[Action]]:
    c = catalog.current["clinic-appointments"]
    params, last, options = CASES[name]
    return step(c, waiting_call(c, last), Event.tick(queue_status(params), NOW), options)


@pytest.mark.parametrize("name", sorted(CASES))
def test_wait_twiml_golden(catalog: Catalog, name: str) -> None:
    state, actions = wait_doc(catalog, name)
    out = twiml.render(actions, urls_for(state))
    path = GOLDEN / f"wait-{name}.xml"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out + "\n", encoding="utf-8")
    assert out + "\n" == path.read_text(encoding="utf-8")


def test_wait_documents_use_only_verbs_twilio_allows_there(catalog: Catalog) -> None:
    allowed = (Say, Play, Pause, Gather, Redirect, Leave)
    for name in CASES:
        state, actions = wait_doc(catalog, name)
        assert state.state == "__wait__"
        assert all(isinstance(a, allowed) for a in actions if not isinstance(a, Job))
    said = " ".join(spoken(wait_doc(catalog, "garbage")[1]))
    assert "Thank you for waiting" in said and "keep your place" in said


# --- the engine after the queue -----------------------------------------------------------

def test_leaving_the_queue_for_a_callback_ends_politely(catalog: Catalog) -> None:
    c = catalog.get("clinic-appointments")
    assert c is not None
    now = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    state, actions = step(c, CallState("CA1", c.flow.id, c.flow.version), Event.start(now))
    state, actions = step(c, state, Event.press("0", now))
    assert state.state == "human"
    state, actions = step(c, state, Event(EventKind.DIAL_RESULT, status="leave", now=now))
    assert state.outcome == "callback" and state.ended
    assert isinstance(actions[-2], Hangup) and "call you back" in " ".join(spoken(actions))
    assert not any(isinstance(a, Job) and a.kind == "callback" for a in actions)


def test_gh2_queue_flows_pass_because_waits_are_announced() -> None:
    text = (Path(__file__).parent.parent / "flowlang" / "test_gethuman.py").read_text()
    base = text.split('BASE = """\\\n', 1)[1].split('"""', 1)[0]
    checked = check_text(base.replace('  dial: "+15551230000"', "  enqueue: support"), "q.yaml")
    assert checked.flow is not None, checked.problems
    assert [p.code for p in check_gethuman(checked.flow, checked.source)] == []


# --- the callback choice over signed webhooks -------------------------------------------------

@pytest.fixture
def store(redis_conn: redis.Redis) -> Store:
    return Store(redis_conn)


@pytest.fixture
def app(redis_url: str) -> Flask:
    return make_app(redis_url, callback_dry_run=True)


def queued(app: Flask, caller: str = CALLER) -> tuple[TwilioCaller, str]:
    """A clinic caller who pressed 0 and sits in the queue; returns (caller, Enqueue action)."""
    c = TwilioCaller(flask_transport(app.test_client()), flow="clinic-appointments")
    c.params = _from(c.params, caller)  # type: ignore[method-assign]
    c.dial()
    c.press("0")
    assert c.last is not None
    node = c.last.xml.find("Enqueue")
    assert node is not None and node.text == "front_desk", c.last.text
    assert "/wait?e=wait&turn=" in node.get("waitUrl", ""), c.last.text
    action = c.action("Enqueue")
    c.post(node.get("waitUrl", ""), c.params(QueuePosition="40", QueueTime="0",
                                             AvgQueueTime="120", CurrentQueueSize="41"))
    assert "number 40 in line" in c.spoken and "press 1" in c.spoken
    return c, action


def _from(params: Any, number: str) -> Any:
    def inner(**extra: str) -> dict[str, str]:
        return dict(params(**extra), From=number, Caller=number)
    return inner


def jobs_of(conn: redis.Redis, sid: str) -> dict[str, Any]:
    """The call's callback jobs (ids ``{sid}-t{turn}-{n}-callback`` / ``-place``: the
    turn that committed them)."""
    q = Queue(jobs.JOB_QUEUE, connection=conn, serializer=JSONSerializer)

    def one(suffix: str) -> Any:
        keys = conn.scan_iter(f"rq:job:{sid}-t*-[0-9]-{suffix}")
        ids = [k.decode().split(":", 2)[2] for k in keys]
        assert len(ids) <= 1, ids
        return q.fetch_job(ids[0]) if ids else None

    job, placed = one("callback"), one("place")
    return {"callback": job.args[0] if job else None,
            "scheduled": placed.get_status() if placed else None,
            "place": placed}


def test_confirm_own_number_then_leave_and_goodbye(app: Flask, redis_conn: redis.Redis,
                                                   store: Store) -> None:
    c, enqueue_action = queued(app)
    c.press("1")
    assert "2 1 2, 5 5 5, 1 2 3 4" in c.spoken and "press 1" in c.spoken
    c.press("1")
    assert c.verbs == ["Say", "Leave"] and "in about 80 minutes" not in c.spoken
    assert "within about 2 hours" in c.spoken
    found = jobs_of(redis_conn, c.sid)
    assert found["callback"]["number"] == CALLER and found["scheduled"] == "scheduled"
    assert found["callback"]["flow"] == "clinic-appointments"
    c.post(enqueue_action, c.params(QueueResult="leave", QueueTime="45"))
    assert c.verbs == ["Say", "Hangup"] and "call you back" in c.spoken
    state = store.load(c.sid)
    assert state is not None and state.outcome == "callback" and state.ended


def test_enter_another_number(app: Flask, redis_conn: redis.Redis) -> None:
    c, _ = queued(app)
    c.press("1")
    c.press("2")
    assert "enter the phone number" in c.spoken
    c.press("4155552671")
    assert c.verbs == ["Say", "Leave"] and "4 1 5, 5 5 5, 2 6 7 1" in c.spoken
    assert jobs_of(redis_conn, c.sid)["callback"]["number"] == "+14155552671"


def test_invalid_number_is_asked_again_then_the_caller_keeps_waiting(
        app: Flask, redis_conn: redis.Redis) -> None:
    c, _ = queued(app)
    c.press("1")
    c.press("2")
    c.press("123")
    assert "doesn't look like a phone number" in c.spoken
    c.press("5550000000")
    assert "keep your place" in c.spoken and c.verbs == ["Say", "Pause", "Redirect"]
    assert "/wait?e=wait" in c.redirect_url()
    assert jobs_of(redis_conn, c.sid)["callback"] is None


def test_unknown_caller_number_goes_straight_to_entering_one(app: Flask,
                                                            redis_conn: redis.Redis) -> None:
    c, _ = queued(app, caller="anonymous")
    c.press("1")
    assert "enter the phone number" in c.spoken
    c.press("2125550188")
    assert jobs_of(redis_conn, c.sid)["callback"]["number"] == "+12125550188"


def test_hang_up_while_choosing_stores_nothing(app: Flask, redis_conn: redis.Redis,
                                               store: Store) -> None:
    c, enqueue_action = queued(app)
    c.press("1")
    c.post(enqueue_action, c.params(QueueResult="hangup"))
    c.hangup()
    assert jobs_of(redis_conn, c.sid) == {"callback": None, "scheduled": None, "place": None}
    state = store.load(c.sid)
    assert state is not None and state.outcome == "hangup"


def test_silence_or_other_keys_keep_the_caller_in_line(app: Flask) -> None:
    c, _ = queued(app)
    c.silence()
    assert "keep your place" in c.spoken and "/wait?e=wait" in c.redirect_url()


def test_other_keys_and_zero_while_choosing_keep_the_place(app: Flask) -> None:
    c, _ = queued(app)
    c.press("1")
    c.press("7")                                    # neither 1 nor 2 at the confirmation
    assert c.spoken == "No problem. You keep your place in line."
    assert c.verbs == ["Say", "Pause", "Redirect"] and "/wait?e=wait" in c.redirect_url()
    c, _ = queued(app, caller="anonymous")
    c.press("1")                                    # no number of their own: type one
    c.press("0")                                    # 0 here: they already wait for a person
    assert "in line for the next available person" in c.spoken


def test_wait_url_garbage_is_never_a_500(app: Flask) -> None:
    c, _ = queued(app)
    assert c.last is not None
    wait = c.redirect_url() if "Redirect" in c.verbs else c.gather_action().replace(
        "e=turn", "e=wait")
    for params in ({}, {"QueuePosition": "-1"}, {"QueuePosition": "9" * 40,
                                                 "AvgQueueTime": "-5", "QueueTime": "x"},
                   {"QueuePosition": "²", "QueueTime": "１２"}):
        reply = c.post(wait, c.params(**params))
        assert reply.status == 200 and "<Dial" not in reply.text and "<Say" in reply.text
    for bad in ("e=wait&turn=zz", "e=dial&turn=1", "turn=²", "e=wait"):
        reply = c.post(f"http://localhost/voice/clinic-appointments/wait?{bad}", c.params())
        assert reply.status == 200 and "stay on the line" in c.spoken, bad
        assert "<Dial" not in reply.text
    forged = c.post(wait, c.params(Digits="1"), signature="forged")
    assert forged.status == 403


# --- the callback job on a real worker, dry run -------------------------------------------------

@pytest.fixture
def worker_settings(tmp_path: Path) -> Iterator[Settings]:
    s = Settings(spool_dir=str(tmp_path / "spool"), archive_path=str(tmp_path / "a.db"),
                        job_retry_intervals=[0], ops_webhook_url="", callback_dry_run=True,
                        callback_from_number="+18005550100",
                        public_base_url="https://ivr.example.com",
                        twilio=TwilioSettings())
    tasks.configure(s)
    yield s
    tasks.configure(None)


def work(conn: redis.Redis) -> None:
    Worker(jobs.job_queues(conn), connection=conn, serializer=JSONSerializer).work(
        burst=True, with_scheduler=True)


def callback_job(sid: str, promise: datetime) -> Job:
    return Job("callback", {"sid": sid, "flow": "clinic-appointments", "caller": CALLER,
                            "recording": "", "duration": 0, "reason": "", "slots": {},
                            "path": ["triage", "human"], "at": "2026-11-20T14:05:00-05:00",
                            "number": "+14155552671", "promise": promise.isoformat()})


def dry_requests(conn: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(x) for x in conn.lrange(DRY_LIST, 0, -1)]


def test_callback_job_end_to_end_dry_run(redis_conn: redis.Redis,
                                         worker_settings: Settings) -> None:
    due = datetime.now(UTC) - timedelta(seconds=1)
    jobs.submit(redis_conn, [callback_job("CA9", due)], worker_settings)
    jobs.submit(redis_conn, [callback_job("CA9", due)], worker_settings)  # a retried webhook
    work(redis_conn)
    [req] = dry_requests(redis_conn)
    assert req["to"] == "+14155552671" and req["from"] == "+18005550100"
    assert req["url"] == "https://ivr.example.com/voice/clinic-appointments?callback=CA9&attempt=1"
    assert req["machine_detection"] == "DetectMessageEnd" and "status?callback=CA9" in \
        req["status_callback"]
    from ivr.jobs.callbacks import place_callback

    queue_ = Queue(jobs.JOB_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    queue_.enqueue(place_callback, callback_job("CA9", due).payload)  # a re-run: no 2nd call
    work(redis_conn)
    assert len(dry_requests(redis_conn)) == 1


def test_callback_waits_for_the_promised_time(redis_conn: redis.Redis,
                                              worker_settings: Settings) -> None:
    jobs.submit(redis_conn, [callback_job("CA8", datetime.now(UTC) + timedelta(hours=1))],
                worker_settings)
    work(redis_conn)
    assert dry_requests(redis_conn) == []
    q = Queue(jobs.JOB_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    assert "CA8-place" in q.scheduled_job_registry.get_job_ids()


def test_web_confirmed_callback_is_placed_by_a_real_worker(
        app: Flask, redis_conn: redis.Redis, worker_settings: Settings) -> None:
    c, _ = queued(app)
    c.press("1")
    c.press("1")
    place = jobs_of(redis_conn, c.sid)["place"]
    q = Queue(jobs.JOB_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    q.scheduled_job_registry.schedule(place, datetime.now(UTC) - timedelta(seconds=1))
    work(redis_conn)
    [req] = dry_requests(redis_conn)
    assert req["to"] == CALLER and req["from"] == "+18005550100"
    assert req["url"].endswith(f"/voice/clinic-appointments?callback={c.sid}&attempt=1")
