"""A second "other" capture in one call is kept: both utterances in the call's one inbox item
(per-turn job ids, merged by the archive), through the web, a real RQ worker and `ivr inbox`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from rq import Worker
from rq.serializers import JSONSerializer

from ivr.cli import main
from ivr.config import Settings
from ivr.jobs import enqueue as jobs
from ivr.jobs import tasks
from ivr.jobs.archive import Archive
from tests.conftest import ROOT
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport

pytestmark = pytest.mark.redis


def capture_twice_flow() -> str:
    """card-services, where "other" asks what else the caller needs after the capture."""
    text = (ROOT / "flows" / "card-services.yaml").read_text()
    start = text.index("  other:\n")
    then = text.index("    then: human\n", start)
    return text[:then] + "    then: anything_else\n" + text[then + len("    then: human\n"):]


def test_both_captures_of_one_call_are_in_its_inbox_item(
        redis_url: str, redis_conn: redis.Redis, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "card-services.yaml").write_text(capture_twice_flow())
    archive_path = tmp_path / "a.db"
    tasks.configure(Settings(archive_path=str(archive_path), spool_dir=str(tmp_path / "s"),
                             job_retry_intervals=[0]))
    try:
        c = TwilioCaller(flask_transport(make_app(redis_url, flows_dir=str(flows)).test_client()))
        c.dial()
        c.press("9")
        c.say("I found somebody's card on the bus")
        assert "anything else" in c.spoken.lower()
        c.press("9")
        c.say("card")                             # a substring of the first: kept all the same
        c.press("0")
        assert c.dialled
        c.answered("completed")
        Worker(jobs.job_queues(redis_conn), connection=redis_conn,
               serializer=JSONSerializer).work(burst=True)
        ids = sorted(k.decode().split(":", 2)[2] for k in redis_conn.scan_iter("rq:job:*"))
        assert [i for i in ids if i.endswith("-0-inbox")] == [f"{c.sid}-t3-0-inbox",
                                                              f"{c.sid}-t5-0-inbox"]
        [item] = Archive(archive_path).inbox()
        assert item["sid"] == c.sid and item["said"] == "I found somebody's card on the bus; card"
        (tmp_path / "config.yaml").write_text('emergency_number: "+15551230000"\n')
        out = CliRunner().invoke(main, ["inbox", "-c", str(tmp_path / "config.yaml"),
                                        "--archive", str(archive_path), "--format", "json"])
        assert out.exit_code == 0 and [i["said"] for i in json.loads(out.output)] == \
            ["I found somebody's card on the bus; card"]
        table = CliRunner().invoke(main, ["inbox", "-c", str(tmp_path / "config.yaml"),
                                          "--archive", str(archive_path)]).output
        assert "I found somebody's card on the bus; card" in table
    finally:
        tasks.configure(None)
