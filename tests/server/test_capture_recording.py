"""A capture with `record: true`: the caller's words are recorded (audio + Twilio's
transcription), the call goes to a person at once, and the transcription joins the inbox
item later through a real RQ worker."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from rq import Worker
from rq.serializers import JSONSerializer

from ivr.config import Settings
from ivr.flowlang.catalog import compile_text
from ivr.jobs import enqueue as jobs
from ivr.jobs import tasks
from ivr.jobs.archive import Archive
from ivr.runtime.actions import Dial, Job, Record
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event, EventKind
from tests.conftest import OPEN, ROOT
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport, sign

CAPTURE = '''    capture: "No problem. In a few words, tell me why you're calling'''


def recorded_flow_text() -> str:
    text = (ROOT / "flows" / "card-services.yaml").read_text()
    assert CAPTURE in text
    return text.replace("    then: human\n", "    then: human\n    record: true\n", 1)


def test_engine_records_the_capture_and_hands_over() -> None:
    c = compile_text(recorded_flow_text())
    state = CallState("CA1", c.flow.id, c.flow.version, state="main_menu")
    state, actions = step(c, state, Event.press("9", OPEN))
    record = actions[-1]
    assert state.state == "other" and isinstance(record, Record) and record.transcribe
    state, actions = step(c, state, Event(EventKind.RECORDING, url="https://rec/RE1",
                                          duration=7, now=OPEN))
    inbox = next(a for a in actions if isinstance(a, Job) and a.kind == "inbox")
    assert inbox.payload["recording"] == "https://rec/RE1" and state.state == "human"
    assert isinstance(actions[-1], Dial) and "recorded message" in actions[-1].whisper


@pytest.mark.redis
def test_transcription_joins_the_inbox_item(redis_url: str, redis_conn: redis.Redis,
                                            tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "card-services.yaml").write_text(recorded_flow_text())
    archive_path = str(tmp_path / "a.db")
    tasks.configure(Settings(archive_path=archive_path, spool_dir=str(tmp_path / "s"),
                                   job_retry_intervals=[0]))
    try:
        client = make_app(redis_url, flows_dir=str(flows)).test_client()
        caller = TwilioCaller(flask_transport(client))
        caller.dial("card-services")
        caller.press("9")
        assert caller.last is not None
        rec = caller.last.xml.find("Record")
        assert rec is not None and rec.get("transcribe") == "true"
        callback = rec.get("transcribeCallback", "")
        assert callback.endswith(f"/transcription?sid={caller.sid}")
        caller.record("https://api.twilio.com/rec/RE9", 8)
        params = {"CallSid": caller.sid, "TranscriptionStatus": "completed",
                  "TranscriptionText": "I found a card 4111 1111 1111 1111 on the bus",
                  "RecordingUrl": "https://api.twilio.com/rec/RE9"}
        forged = client.post(callback, data=params, headers={"X-Twilio-Signature": "x"})
        assert forged.status_code == 403
        ok = client.post(callback, data=params,
                         headers={"X-Twilio-Signature": sign(callback, params)})
        assert ok.status_code == 200
        Worker(jobs.job_queues(redis_conn), connection=redis_conn,
               serializer=JSONSerializer).work(burst=True)
        [item] = Archive(archive_path).inbox()
        assert item["recording"] == "https://api.twilio.com/rec/RE9"
        assert item["said"] == "I found a card [card number] on the bus"
    finally:
        tasks.configure(None)
