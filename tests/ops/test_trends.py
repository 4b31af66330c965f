"""Metrics over time and per-state numbers on a small known archive, on SQLite and on
PostgreSQL: exact counts, day buckets in the flow's time zone (a call at 03:30 UTC is the
previous day in New York), hours for the last 24 hours, time to a person, the funnel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.flowlang.catalog import check_file
from ivr.flowlang.hours import zone
from ivr.flowlang.model import Flow
from ivr.jobs.archive import Archive
from ivr.jobs.archive_stats import Period, path_counts
from ivr.ops import charts
from ivr.ops.state_numbers import state_numbers
from ivr.ops.times import flow_zone
from ivr.ops.trend_charts import panel
from ivr.ops.trends import bucket_starts, trend
from tests.conftest import ROOT

FLOW_ID = "card-services"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)   # Sat 21 Nov, 07:00 in New York
ENTRY = ["welcome", "check_hours", "main_menu"]


@pytest.fixture(scope="module")
def flow() -> Flow:
    checked = check_file(str(ROOT / "flows" / f"{FLOW_ID}.yaml"))
    assert checked.flow is not None
    return checked.flow


def start(at: str) -> dict[str, Any]:
    return {"turn": 1, "from": "", "to": "main_menu", "heard": {"kind": "start"},
            "actions": ["say", "gather"], "at": at}


def call(a: Archive, sid: str, started: str, outcome: str, path: list[str],
         turns: list[dict[str, Any]] | None = None, flow: str = FLOW_ID) -> None:
    a.record_call({"sid": sid, "flow": flow, "outcome": outcome, "started": started,
                   "ended": started, "path": path}, turns or [start(started)])


def seed(a: Archive) -> None:
    """Eight calls of card-services and one of another flow.

    Thu 19 Nov (New York): CA1 at 03:30 UTC on the 20th (22:30 EST on the 19th) zeroes
    out in main_menu (a person rings 40 s after the start).
    Fri 20 Nov: CA2 completed (balance), CA3 hangs up in main_menu, CA4 says something
    else and reaches "other", CA5 zeroes out by saying "agent" in main_menu (queue after
    95 s), CA6 hangs up in balance; CA7 (voicemail) is at 04:59 UTC on the 21st = 23:59
    EST on the 20th.
    Sat 21 Nov: CA8 at 11:30 UTC (06:30 EST) completed.
    """
    t0 = "2026-11-20T03:30:00+00:00"
    call(a, "CA1", t0, "human", [*ENTRY, "human", "__end__"], [start(t0), {
        "turn": 2, "from": "main_menu", "to": "human", "actions": ["say", "dial"],
        "heard": {"kind": "digits", "digits": "0"}, "at": "2026-11-20T03:30:40+00:00"}])
    call(a, "CA2", "2026-11-20T15:00:00+00:00", "completed",
         [*ENTRY, "balance", "goodbye", "__end__"])
    call(a, "CA3", "2026-11-20T15:10:00+00:00", "hangup", [*ENTRY, "__end__"])
    call(a, "CA4", "2026-11-20T16:00:00+00:00", "other", [*ENTRY, "other", "human", "__end__"])
    t5 = "2026-11-20T17:00:00+00:00"
    call(a, "CA5", t5, "human", [*ENTRY, "human", "__end__"], [start(t5), {
        "turn": 2, "from": "main_menu", "to": "human", "actions": ["say", "enqueue"],
        "heard": {"kind": "speech", "text": "agent"}, "at": "2026-11-20T17:01:35+00:00"}])
    call(a, "CA6", "2026-11-20T18:00:00+00:00", "hangup", [*ENTRY, "balance", "__end__"])
    call(a, "CA7", "2026-11-21T04:59:00+00:00", "voicemail",
         ["welcome", "check_hours", "after_hours", "__end__"])
    call(a, "CA8", "2026-11-21T11:30:00+00:00", "completed",
         [*ENTRY, "balance", "goodbye", "__end__"])
    call(a, "CAx", "2026-11-20T15:00:00+00:00", "completed", ["hello"], flow="other-flow")
    call(a, "CAold", "2026-10-01T15:00:00+00:00", "completed", ENTRY)


def test_days_in_the_flows_zone(archive_target: str, flow: Flow) -> None:
    a = Archive(archive_target)
    seed(a)
    t = trend(a, FLOW_ID, flow, "7d", NOW)
    assert t.zone_label == "days in America/New_York (EST)"
    days = {b.title: b for b in t.buckets}
    assert list(days)[-3:] == ["Thu 19 Nov", "Fri 20 Nov", "Sat 21 Nov"]
    assert len(t.buckets) == 8  # Sat 14 … Sat 21 Nov: since is 12:00 UTC on the 14th
    assert days["Thu 19 Nov"].outcomes == {"human": 1}
    assert dict(days["Fri 20 Nov"].outcomes) == {"completed": 1, "hangup": 2, "other": 1,
                                                 "human": 1, "voicemail": 1}
    assert dict(days["Sat 21 Nov"].outcomes) == {"completed": 1}
    assert (days["Thu 19 Nov"].zero_outs, days["Fri 20 Nov"].zero_outs) == (1, 1)
    assert days["Thu 19 Nov"].to_person == [40.0] and days["Fri 20 Nov"].to_person == [95.0]
    assert days["Fri 20 Nov"].rate(1) == pytest.approx(100 / 6)
    totals = t.totals
    assert (totals.calls, totals.containment, totals.other_rate) == (8, 25.0, 12.5)
    assert totals.zero_outs == {"main_menu": 2}
    assert t.funnel() == [("entered", 8), ("reached a menu", 8), ("self-served", 2),
                          ("a person", 2), ('"other"', 1), ("voicemail", 1), ("hung up", 2)]


def test_hours_for_the_last_24_hours(archive_target: str, flow: Flow) -> None:
    a = Archive(archive_target)
    seed(a)
    t = trend(a, FLOW_ID, flow, "24h", NOW)
    assert t.unit == "hour" and t.zone_label == "hours in America/New_York (EST)"
    assert len(t.buckets) == 25  # from 12:00 UTC on the 20th
    assert t.buckets[0].title == "Fri 20 Nov 07:00"
    by_hour = {b.start.isoformat(): b.calls for b in t.buckets if b.calls}
    assert by_hour == {"2026-11-20T10:00:00-05:00": 2, "2026-11-20T11:00:00-05:00": 1,
                       "2026-11-20T12:00:00-05:00": 1, "2026-11-20T13:00:00-05:00": 1,
                       "2026-11-20T23:00:00-05:00": 1, "2026-11-21T06:00:00-05:00": 1}
    assert t.totals.calls == 7  # CA1 started before the 24 hours


def test_all_time_starts_at_the_first_call(archive_target: str, flow: Flow) -> None:
    a = Archive(archive_target)
    seed(a)
    t = trend(a, FLOW_ID, flow, "all", NOW)
    assert t.buckets[0].title == "Thu 01 Oct" and t.totals.calls == 9
    empty = trend(a, "no-such-flow", None, "all", NOW)
    assert empty.totals.calls == 0 and empty.zone == "UTC" and len(empty.buckets) == 1


def test_state_numbers_for_the_graph(archive_target: str, flow: Flow) -> None:
    a = Archive(archive_target)
    seed(a)
    n = state_numbers(a, FLOW_ID, flow, Period(FLOW_ID, datetime(2026, 11, 1, tzinfo=UTC)))
    assert n.calls == 8
    assert (n.through["main_menu"], n.through["balance"], n.through["human"]) == (7, 3, 3)
    assert n.edges[("__start__", "welcome")] == 8
    assert n.edges[("main_menu", "balance")] == 3 and n.edges[("main_menu", "human")] == 2
    assert n.zero_outs == {"main_menu": 2} and n.zero_rate("main_menu") == pytest.approx(2 / 7)
    assert n.other == {"main_menu": 1}
    assert n.hangups == {"main_menu": 1, "balance": 1}
    assert n.to_person == {"CA1": 40.0, "CA5": 95.0}
    assert n.menu_calls == 8  # after_hours is a menu too
    assert [(p.path, p.calls) for p in path_counts(a, Period("other-flow"))] == [(("hello",), 1)]


def test_charts_have_a_title_per_bar_and_axis_labels(archive_target: str, flow: Flow) -> None:
    a = Archive(archive_target)
    seed(a)
    p = panel(trend(a, FLOW_ID, flow, "7d", NOW))
    svg = str(p.calls)
    assert svg.count('<g class="bar"') == 8
    assert "<title>Fri 20 Nov: 6 calls (1 self-served, 1 a person, 1 &#34;other&#34;, " \
           "1 voicemail, 2 hung up)</title>" in svg
    assert "days in America/New_York (EST)" in svg
    assert "<title>Thu 19 Nov: median time to a person 0:40</title>" in str(p.to_person)
    assert (p.median_to_person, p.p90_to_person) == ("1:08", "1:35")
    assert "<title>Fri 20 Nov: zero-outs 17%</title>" in str(p.rates)


def test_zone_fallback_and_dst_days() -> None:
    assert flow_zone(None) == ("UTC", UTC)
    tz = zone("America/New_York")
    days = bucket_starts(datetime(2026, 10, 31, 12, tzinfo=UTC),
                         datetime(2026, 11, 2, 12, tzinfo=UTC), tz, "day")
    assert [d.isoformat() for d in days] == ["2026-10-31T00:00:00-04:00",
                                            "2026-11-01T00:00:00-04:00",
                                            "2026-11-02T00:00:00-05:00"]
    assert charts.clock(3725) == "1:02:05" and charts.nice_max(7) == 10
    assert [charts.whole_max(v) for v in (0, 2, 6, 31, 50, 350)] == [4, 4, 8, 40, 80, 400]
    assert (charts.nice_seconds(0), charts.nice_seconds(95), charts.nice_seconds(4000)) == (
        60, 120, 7200)


def test_minute_buckets_in_a_half_hour_zone(tmp_path: Any) -> None:
    from dataclasses import replace

    from ivr.flowlang.model import Hours

    checked = check_file(str(ROOT / "flows" / f"{FLOW_ID}.yaml"))
    assert checked.flow is not None and checked.flow.hours is not None
    india = replace(checked.flow, hours=replace(checked.flow.hours, timezone="Asia/Kolkata"))
    assert isinstance(india.hours, Hours)
    a = Archive(tmp_path / "a.db")
    call(a, "CAi1", "2026-11-20T18:29:00+00:00", "completed", ENTRY)  # 23:59 IST on the 20th
    call(a, "CAi2", "2026-11-20T18:31:00+00:00", "completed", ENTRY)  # 00:01 IST on the 21st
    days = {b.title: b.calls for b in trend(a, FLOW_ID, india, "7d", NOW).buckets}
    assert (days["Fri 20 Nov"], days["Sat 21 Nov"]) == (1, 1)


def test_time_to_a_person_is_when_the_person_answered_when_the_leg_said_so() -> None:
    from ivr.ops.state_numbers import StateNumbers, add_turns

    start = "2026-11-20T19:00:00+00:00"
    def line(at: int, **heard: str) -> dict[str, object]:
        return {"from": "main_menu", "to": "human", "at": f"2026-11-20T19:00:{at:02d}+00:00",
                "heard": heard, "actions": ["say", "dial"] if heard["kind"] == "digits" else []}
    n = StateNumbers()
    add_turns(n, None, [("CA1", start, line(10, kind="digits", digits="0")),     # rang at 10 s
                        ("CA1", start, line(14, kind="leg", status="ringing")),
                        ("CA1", start, line(31, kind="leg", status="answered")),   # answered
                        ("CA1", start, line(40, kind="leg", status="answered")),   # a repeat
                        ("CA2", start, line(12, kind="digits", digits="0"))])      # no leg report
    assert n.to_person == {"CA1": 31.0, "CA2": 12.0}
