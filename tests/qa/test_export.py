"""ivr export: calls placed through the real web app, archived by a real RQ worker, come
back as transcripts that replay green, pinned to their flow version, redactions kept."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
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
from ivr.qa.export import placeholder, transcript_for
from ivr.runtime.redact import luhn_ok
from tests.conftest import ROOT
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport

pytestmark = pytest.mark.redis


@pytest.fixture
def archive_path(tmp_path: Path, archive_target: str) -> Iterator[str]:
    """The archive the worker writes and ``--archive`` names: SQLite, then PostgreSQL."""
    url = archive_target if "://" in archive_target else ""
    tasks.configure(Settings(archive_path=archive_target, archive_url=url,
                             spool_dir=str(tmp_path / "spool"), job_retry_intervals=[0]))
    yield archive_target
    tasks.configure(None)


def place_calls(redis_url: str, redis_conn: redis.Redis) -> None:
    client = make_app(redis_url).test_client()
    found = TwilioCaller(flask_transport(client))
    found.dial("card-services")
    found.say("I found somebody's credit card on the sidewalk", confidence=0.9)
    found.say("I want to give it back", confidence=0.9)
    found.answered("completed")
    found.hangup()
    pin = TwilioCaller(flask_transport(client))
    pin.dial("card-services")
    pin.press("2")
    pin.press("54321")
    pin.press("3")
    pin.hangup()
    silent = TwilioCaller(flask_transport(client))
    silent.dial("card-services")
    for _ in range(3):
        silent.silence()
    leg = silent.last.xml.find("Dial/Number").get("statusCallback")  # type: ignore[union-attr]
    for status in ("ringing", "completed"):  # the person's phone rang, nobody answered
        silent.post(leg, silent.params(CallSid="CAleg", ParentCallSid=silent.sid,
                                       CallStatus=status), keep=False)
    silent.answered("no-answer")
    silent.silence()                   # no call back: leave a message
    silent.record()
    silent.hangup()
    Worker(jobs.job_queues(redis_conn), connection=redis_conn,
           serializer=JSONSerializer).work(burst=True)


def test_recorded_calls_export_and_replay_green(redis_url: str, redis_conn: redis.Redis,
                                                archive_path: str, tmp_path: Path) -> None:
    place_calls(redis_url, redis_conn)
    out = tmp_path / "exported"
    runner = CliRunner()
    res = runner.invoke(main, ["export", "--flow", "card-services", "--out", str(out),
                               "--archive", archive_path, "--redis-url", redis_url])
    assert res.exit_code == 0, res.output
    files = sorted((out / "card-services").glob("*.yaml"))
    assert len(files) == 3
    texts = "".join(f.read_text() for f in files)
    assert "54321" not in texts and 'press: "11111"' in texts
    assert "leg: ringing" in texts and "leg: completed" in texts  # archived, exported
    assert "version:" in texts and list((out / "flows").glob("card-services@*.yaml"))
    res = runner.invoke(main, ["replay", "--flows-dir", str(ROOT / "flows"), str(out)])
    assert res.exit_code == 0, res.output
    assert "3 transcript(s): 3 passed, 0 failed" in res.output


def test_pinned_version_replays_after_the_flow_changed(redis_url: str, redis_conn: redis.Redis,
                                                       archive_path: str,
                                                       tmp_path: Path) -> None:
    place_calls(redis_url, redis_conn)
    out = tmp_path / "exported"
    runner = CliRunner()
    assert runner.invoke(main, ["export", "--since", "3650d", "--out", str(out), "--archive",
                                archive_path, "--redis-url", redis_url]).exit_code == 0
    changed = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", changed)
    card = changed / "card-services.yaml"
    card.write_text(card.read_text().replace("Goodbye.", "Bye now."))
    res = runner.invoke(main, ["replay", "--flows-dir", str(changed), str(out / "card-services")])
    assert res.exit_code == 0, res.output
    shutil.rmtree(out / "flows")
    res = runner.invoke(main, ["replay", "--flows-dir", str(changed), str(out / "card-services")])
    assert res.exit_code == 1 and "IVR510" in res.output


def test_export_needs_a_selection_and_reports_unknown_sids(archive_path: str) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["export", "--archive", archive_path]).exit_code == 2
    res = runner.invoke(main, ["export", "CAnope", "--archive", archive_path])
    assert res.exit_code == 1 and "CAnope" in res.output


def test_placeholder_keeps_length_and_is_never_a_card_number() -> None:
    assert placeholder("*****") == "11111"
    assert placeholder("[card number]") != "1" * 16 or not luhn_ok("1" * 16)
    assert not luhn_ok(placeholder("[card number]"))
    assert placeholder("12") == "12"


def test_transcript_of_a_call_without_turns_is_an_error() -> None:
    with pytest.raises(ValueError, match="no archived turns"):
        transcript_for({"sid": "CA1", "flow": "f", "turns": []})
