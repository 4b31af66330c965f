"""Callbacks that reach a machine, a fax or nobody: answering-machine detection and the
call-progress events are asked of Twilio (its HTTP boundary replaced, the real SDK), and
each miss becomes another try, ``callback_retry_minutes`` later, in business hours, until
``callback_tries``. Real Redis, real RQ worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from ivr.config import Settings, TwilioSettings
from ivr.jobs import callbacks, tasks
from ivr.jobs import enqueue as jobs
from ivr.runtime.actions import Job
from ivr.store import calls
from ivr.store.keys import CALLBACK_PLACED, CURRENT, FLOW
from ivr.telephony import rest
from tests.conftest import ROOT
from tests.jobs.test_callbacks import NUMBER, SID, FakeTwilio, use, work

pytestmark = pytest.mark.redis
FRIDAY_7_50PM = "2026-11-20T19:50:00-05:00"   # card-services closes at 20:00 (America/New_York)


@pytest.fixture
def settings(tmp_path: Path, redis_conn: redis.Redis) -> Iterator[Settings]:
    s = Settings(spool_dir=str(tmp_path / "spool"), archive_path=str(tmp_path / "a.db"),
                 job_retry_intervals=[0], callback_from_number="+18005550100",
                 public_base_url="https://ivr.example.com", clock=FRIDAY_7_50PM,
                 callback_tries=3, callback_retry_minutes=30, caller_key_secret="k",
                 twilio=TwilioSettings(account_sid="AC" + "0" * 32, auth_token="token"))
    text = (ROOT / "flows" / "card-services.yaml").read_text(encoding="utf-8")
    store = calls.Store(redis_conn)
    store.put_flow("card-services", "v1", text)
    store.set_current("card-services", "v1")
    tasks.configure(s)
    yield s
    tasks.configure(None)
    rest.HTTP_CLIENT = None


def retry(conn: redis.Redis, attempt: int, why: str = "machine") -> None:
    job = Job("callback_retry", {"sid": "CAtry" + str(attempt), "callback": SID,
                                 "flow": "card-services", "number": NUMBER,
                                 "attempt": attempt, "why": why})
    jobs.enqueue(conn, job, None)


def scheduled(conn: redis.Redis) -> list[tuple[str, datetime]]:
    q = Queue(jobs.JOB_QUEUE, connection=conn, serializer=JSONSerializer)
    reg = ScheduledJobRegistry(queue=q)
    return [(jid, reg.get_scheduled_time(jid)) for jid in reg.get_job_ids()]


def test_the_call_asks_twilio_for_machine_detection_and_progress(
        redis_conn: redis.Redis, settings: Settings) -> None:
    twilio = use(FakeTwilio())
    tasks.configure(settings)
    q = Queue(jobs.JOB_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    q.enqueue_call("ivr.jobs.callbacks.place_callback",
                   args=({"sid": SID, "flow": "card-services", "number": NUMBER,
                          "attempt": 2}, "callback_again"))
    work(redis_conn)
    (made,) = twilio.created
    assert made["MachineDetection"] == "DetectMessageEnd"
    assert made["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert made["StatusCallback"] == ("https://ivr.example.com/voice/status?callback="
                                      f"{SID}&attempt=2&flow=card-services")
    assert made["Url"].endswith(f"?callback={SID}&attempt=2")
    assert redis_conn.get(CALLBACK_PLACED.format(f"{SID}-a2")) == made["sid"].encode()
    assert redis_conn.get(CALLBACK_PLACED.format(SID)) is None  # try 1's claim is its own


def test_a_miss_is_tried_again_later_inside_business_hours(
        redis_conn: redis.Redis, settings: Settings) -> None:
    retry(redis_conn, 1)
    work(redis_conn)
    ((jid, at),) = scheduled(redis_conn)
    assert jid == f"{SID}-a2-place"
    # 19:50 + 30 min is after closing on a Friday: Saturday 9:00 New York, when it opens
    assert at.isoformat() == "2026-11-21T14:00:00+00:00"


def test_tries_stop_at_callback_tries_and_a_fax_is_never_tried_again(
        redis_conn: redis.Redis, settings: Settings) -> None:
    retry(redis_conn, 3)
    retry(redis_conn, 1, why="fax")
    work(redis_conn)
    assert scheduled(redis_conn) == []
    done = {j: Queue(jobs.JOB_QUEUE, connection=redis_conn,
                     serializer=JSONSerializer).fetch_job(j).return_value()
            for j in ("CAtry3-retry", "CAtry1-retry")}
    assert done["CAtry3-retry"]["gave_up"] and done["CAtry3-retry"]["tries"] == 3
    assert done["CAtry1-retry"]["gave_up"] and done["CAtry1-retry"]["why"] == "fax"


def test_an_unreadable_flow_still_retries_at_the_plain_time(
        redis_conn: redis.Redis, settings: Settings) -> None:
    redis_conn.set(FLOW.format("card-services", CURRENT), "nope")
    at = callbacks.next_try("card-services", datetime.fromisoformat(FRIDAY_7_50PM))
    assert at.isoformat() == FRIDAY_7_50PM
