"""Caller history: a second call's whisper tells the agent about the first (real Redis,
real RQ worker for the call record)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from rq import Worker
from rq.serializers import JSONSerializer

from ivr.config import Settings
from ivr.jobs import enqueue as jobs
from ivr.jobs import history, tasks
from ivr.runtime.events import CallState
from ivr.runtime.prompts import whisper
from ivr.store.keys import HISTORY
from tests.conftest import ROOT
from tests.server.test_web import make_app
from tests.twilio_caller import TwilioCaller, flask_transport

NOW = datetime(2026, 11, 20, 19, 5, tzinfo=UTC)


def test_recent_topics_are_kept_a_week_and_never_hold_the_number(
        redis_conn: redis.Redis) -> None:
    k = "k3y"
    history.remember(redis_conn, "+15551234567", "CA1", "lost card", NOW - timedelta(days=9), k)
    history.remember(redis_conn, "+15551234567", "CA2", "balance", NOW - timedelta(days=2), k)
    history.remember(redis_conn, "+15551234567", "CA3", "lost card", NOW - timedelta(hours=1), k)
    history.remember(redis_conn, "+15551234567", "CA3", "lost card", NOW - timedelta(hours=1), k)
    topics = history.recent(redis_conn, "+1 (555) 123-4567", NOW, k)
    assert topics == ["balance", "lost card"]
    assert history.summary(topics) == "Third call this week; before: lost card, balance."
    dump = b"".join(redis_conn.dump(k) or b"" for k in redis_conn.keys("*"))
    assert b"5551234567" not in dump and b"4567" not in b"".join(redis_conn.keys("*"))


def test_masked_or_missing_numbers_have_no_history(redis_conn: redis.Redis) -> None:
    history.remember(redis_conn, "+1******4567", "CA1", "x", NOW)
    history.remember(redis_conn, "", "CA1", "x", NOW)
    assert redis_conn.keys(HISTORY.format("*")) == []
    assert history.summary([]) == ""


def test_topic_is_the_callers_words_else_where_the_call_ended() -> None:
    assert history.topic_of({"reason": "I found a card 4111 1111 1111 1111"}) == \
        "I found a card [card number]"
    assert history.topic_of({"path": ["main_menu", "lost_card", "human"]}) == "lost card"


def test_whisper_mentions_earlier_calls() -> None:
    call = CallState("CA1", "card-services", "v", history="Second call this week; before: x.")
    from ivr.flowlang.catalog import check_file

    flow = check_file(str(ROOT / "flows" / "card-services.yaml")).flow
    assert flow is not None
    assert whisper(call, flow).endswith("Second call this week; before: x. Call code 6 9 9 5.")


def test_second_call_whisper_knows_the_first(redis_url: str, redis_conn: redis.Redis,
                                             tmp_path: object) -> None:
    tasks.configure(Settings(archive_path=f"{tmp_path}/a.db", spool_dir=f"{tmp_path}/s",
                                   job_retry_intervals=[0]))
    try:
        client = make_app(redis_url).test_client()
        first = TwilioCaller(flask_transport(client))
        first.dial("card-services")
        first.say("I found somebody's credit card on the sidewalk", confidence=0.9)
        first.say("I'd like to give it back", confidence=0.9)
        first.hangup()
        Worker(jobs.job_queues(redis_conn), connection=redis_conn,
               serializer=JSONSerializer).work(burst=True)
        second = TwilioCaller(flask_transport(client))
        second.dial("card-services")
        second.press("0")
        assert second.last is not None
        url = second.last.xml.find("Dial/Number").get("url")  # type: ignore[union-attr]
        agent = second.post(url, second.params(), keep=False)
        assert "Second call this week; before: I found somebody's credit card" in agent.text
    finally:
        tasks.configure(None)
