"""A callback never rings twice: claimed (SET NX) before Twilio is asked, with Twilio replaced
only at its HTTP boundary (an SDK ``HttpClient`` given to ``ivr.telephony.rest``)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from click.testing import CliRunner
from rq import Queue, Retry, SimpleWorker
from rq.serializers import JSONSerializer
from twilio.http import HttpClient
from twilio.http.response import Response

from ivr.cli import main
from ivr.config import Settings, TwilioSettings
from ivr.jobs import enqueue as jobs
from ivr.jobs import tasks, worker
from ivr.store.keys import CALLBACK_PLACED
from ivr.telephony import rest
from tests.jobs.test_jobs import _url

pytestmark = pytest.mark.redis
SID = "CA" + "7" * 32
JOB = f"{SID}-place"
NUMBER = "+14155552671"


class FakeTwilio(HttpClient):
    """Twilio's Calls API: ``created`` is every call it placed; ``then`` what it does
    after creating one: "answer" (201), "timeout" (the call exists, the reply is lost)."""

    def __init__(self, then: str = "answer", status: int = 201) -> None:
        super().__init__(logging.getLogger("fake-twilio"), is_async=False)
        self.then, self.status = then, status
        self.created: list[dict[str, Any]] = []
        self.requests = 0

    def request(self, method: str, uri: str, params: Any = None, data: Any = None,
                headers: Any = None, auth: Any = None, timeout: Any = None,
                allow_redirects: bool = False) -> Response:
        assert method == "POST" and uri.endswith("/Calls.json"), uri
        self.requests += 1
        if self.status >= 400:                    # refused: nothing is created
            return Response(self.status, json.dumps({"code": 21211, "message": "Invalid 'To'",
                                                     "status": self.status}))
        sid = "CA" + uuid.uuid4().hex
        self.created.append({"sid": sid, **dict(data or {})})
        if self.then == "timeout":
            raise requests.exceptions.ReadTimeout("read timed out (after the call was created)")
        return Response(201, json.dumps({"sid": sid, "to": data["To"], "status": "queued"}))


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    s = Settings(spool_dir=str(tmp_path / "spool"), archive_path=str(tmp_path / "a.db"),
                 job_retry_intervals=[0], callback_from_number="+18005550100",
                 public_base_url="https://ivr.example.com",
                 twilio=TwilioSettings(account_sid="AC" + "0" * 32, auth_token="token"))
    tasks.configure(s)
    yield s
    tasks.configure(None)
    rest.HTTP_CLIENT = None


def use(twilio: FakeTwilio) -> FakeTwilio:
    rest.HTTP_CLIENT = twilio
    return twilio


def place(conn: redis.Redis) -> None:
    """The callback's place job, as the scheduler moves it to the queue (3 retries)."""
    q = Queue(jobs.JOB_QUEUE, connection=conn, serializer=JSONSerializer)
    q.enqueue_call("ivr.jobs.callbacks.place_callback", job_id=JOB, retry=Retry(max=3),
                   args=({"sid": SID, "flow": "card-services", "number": NUMBER,
                          "promise": "2026-11-20T15:00:00-05:00"}, "callback"))


def work(conn: redis.Redis) -> None:
    SimpleWorker(jobs.job_queues(conn), connection=conn, serializer=JSONSerializer).work(burst=True)


def test_a_timeout_after_the_call_was_created_never_rings_twice(
        redis_conn: redis.Redis, settings: Settings) -> None:
    twilio = use(FakeTwilio(then="timeout"))
    place(redis_conn)
    work(redis_conn)                              # the timeout, then RQ's retry
    assert len(twilio.created) == 1 and twilio.requests == 1
    [failed] = worker.failed(redis_conn)          # waiting for a person, not lost
    assert failed["id"] == JOB and "Unconfirmed" in failed["error"]
    assert "never confirmed placed" in failed["error"] and "+1******2671" in failed["error"]
    claim = redis_conn.get(CALLBACK_PLACED.format(SID)) or b""
    assert claim.startswith(f"claimed {JOB} ".encode())
    out = CliRunner().invoke(main, ["jobs", "list", "--redis-url", _url(redis_conn)]).output
    assert f"failed {JOB} (ivr.jobs.callbacks.place_callback)" in out
    # a plain retry still rings nobody: the claim holds
    CliRunner().invoke(main, ["jobs", "retry", JOB, "--redis-url", _url(redis_conn)])
    work(redis_conn)
    assert twilio.requests == 1 and [f["id"] for f in worker.failed(redis_conn)] == [JOB]
    # the person found no call in Twilio's log: release the claim and ring
    twilio.then = "answer"
    res = CliRunner().invoke(main, ["jobs", "retry", JOB, "--release-callbacks",
                                    "--redis-url", _url(redis_conn)])
    assert res.exit_code == 0, res.output
    work(redis_conn)
    assert len(twilio.created) == 2 and worker.failed(redis_conn) == []
    assert redis_conn.get(CALLBACK_PLACED.format(SID)) == twilio.created[-1]["sid"].encode()
    assert twilio.created[-1]["To"] == NUMBER
    assert twilio.created[-1]["Url"] == \
        f"https://ivr.example.com/voice/card-services?callback={SID}&attempt=1"


def test_placed_once_then_every_rerun_is_skipped(redis_conn: redis.Redis,
                                                 settings: Settings) -> None:
    twilio = use(FakeTwilio())
    place(redis_conn)
    work(redis_conn)
    redis_conn.delete(f"rq:job:{JOB}")            # a re-run under the same id, much later
    place(redis_conn)
    work(redis_conn)
    assert len(twilio.created) == 1 and worker.failed(redis_conn) == []


def test_a_refused_request_releases_the_claim_and_is_retried(
        redis_conn: redis.Redis, settings: Settings) -> None:
    twilio = use(FakeTwilio(status=400))
    place(redis_conn)
    work(redis_conn)
    assert twilio.created == [] and twilio.requests == 4     # 1 try + 3 retries
    [failed] = worker.failed(redis_conn)
    assert "Rejected" in failed["error"] and "HTTP 400" in failed["error"]
    assert not redis_conn.exists(CALLBACK_PLACED.format(SID))
    twilio.status = 201                                       # fixed: a retry rings once
    worker.retry_failed(redis_conn, [JOB])
    work(redis_conn)
    assert len(twilio.created) == 1


def test_a_worker_killed_between_claim_and_create_waits_for_a_person(
        redis_conn: redis.Redis, settings: Settings) -> None:
    twilio = use(FakeTwilio())
    redis_conn.set(CALLBACK_PLACED.format(SID), f"claimed {JOB} 2026-11-20T20:00:00+00:00")
    place(redis_conn)                             # the abandoned job, re-run by RQ
    work(redis_conn)
    assert twilio.requests == 0
    [failed] = worker.failed(redis_conn)
    assert "Unconfirmed" in failed["error"]
