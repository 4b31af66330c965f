"""Error pages (styled under /ops, plain text elsewhere, TwiML under /voice), the history's
diff count, the rollback landing on the history tab, and times in the flow's zone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ivr.flowlang.catalog import Catalog
from ivr.flowlang.model import Flow
from ivr.ops import versions as ov
from ivr.server.context import store_of
from tests.ops.test_ops import FLOW, TEXT, current, login, make_app

pytestmark = pytest.mark.redis
MAX_BODY = 24_000


@pytest.fixture
def app(redis_url: str, tmp_path: Path) -> Flask:
    app = make_app(redis_url, str(tmp_path / "a.db"), max_body=MAX_BODY)
    app.config["PROPAGATE_EXCEPTIONS"] = False   # a view that raises: the 500 page

    def boom() -> str:
        raise RuntimeError("secret detail 42")

    app.add_url_rule("/ops/boom", "boom", boom)
    app.add_url_rule("/boom", "plain_boom", boom)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def styled(body: str) -> bool:
    return "polish.css" in body and 'class="error-page"' in body


def test_console_404_405_413_500_are_styled_pages_with_navigation(client: FlaskClient) -> None:
    csrf = login(client)
    got = client.get("/ops/no-such-page")
    body = got.get_data(as_text=True)
    assert got.status_code == 404 and styled(body)
    assert "no console page at /ops/no-such-page" in body
    assert 'href="/ops/calls"' in body and 'href="/ops/inbox"' in body   # navigation
    assert got.headers["Content-Security-Policy"].startswith("default-src 'self'")
    got = client.get("/ops/flows/no-such-flow")                  # a view's own 404
    assert got.status_code == 404 and styled(got.get_data(as_text=True))
    got = client.get("/ops/logout")                              # POST only
    body = got.get_data(as_text=True)
    assert got.status_code == 405 and styled(body) and "data-back" in body
    assert "POST" in got.headers["Allow"]
    big = TEXT + "#" + "x" * MAX_BODY
    got = client.post(f"/ops/flows/{FLOW}/publish", data={"yaml": big, "csrf_token": csrf,
                                                          "based_on": "x"})
    body = got.get_data(as_text=True)
    assert got.status_code == 413 and styled(body) and 'id="go-back"' in body
    assert "24,000 bytes" in body and "your text is still in the editor" in body
    got = client.get("/ops/boom")
    body = got.get_data(as_text=True)
    assert got.status_code == 500 and styled(body) and "secret detail" not in body
    assert "Traceback" not in body


def test_any_other_http_error_is_a_page_too(app: Flask, client: FlaskClient) -> None:
    from flask import abort

    def teapot() -> str:
        abort(418)

    app.add_url_rule("/ops/teapot", "teapot", teapot)
    app.add_url_rule("/teapot", "plain_teapot", teapot)
    login(client)
    got = client.get("/ops/teapot")
    assert got.status_code == 418 and styled(got.get_data(as_text=True))
    got = client.get("/teapot")
    assert got.status_code == 418 and got.mimetype == "text/plain"


def test_console_errors_for_fetch_calls_are_json(client: FlaskClient) -> None:
    login(client)
    got = client.get("/ops/no-such-page", headers={"Accept": "application/json"})
    assert got.status_code == 404 and got.is_json and "no console page" in got.json["error"]


def test_logged_out_error_page_offers_the_login(client: FlaskClient) -> None:
    got = client.get("/ops/no-such-page")
    body = got.get_data(as_text=True)
    assert got.status_code == 404 and styled(body) and 'href="/ops/login"' in body
    assert 'href="/ops/calls"' not in body


def test_outside_the_console_errors_are_plain_safe_text(client: FlaskClient) -> None:
    got = client.get("/no-such-<script>alert(1)</script>")
    assert got.status_code == 404 and got.mimetype == "text/plain"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.get_data(as_text=True).startswith("404 Not Found")
    got = client.get("/boom")
    body = got.get_data(as_text=True)
    assert got.status_code == 500 and got.mimetype == "text/plain" and "secret" not in body
    got = client.delete("/healthz")
    assert got.status_code == 405 and got.mimetype == "text/plain" and "GET" in got.headers["Allow"]


def test_voice_errors_still_answer_twiml(client: FlaskClient) -> None:
    got = client.post("/voice/card-services/nope", data={"CallSid": "CA1"})
    assert got.status_code == 200 and got.mimetype == "text/xml"
    assert "<Dial" in got.get_data(as_text=True)          # the emergency human


def test_a_one_line_change_counts_one_added_one_removed(app: Flask,
                                                        client: FlaskClient) -> None:
    csrf = login(client)
    before = current(app)
    edited = TEXT.replace("description: Card issuer", "description: The card issuer", 1)
    assert edited != TEXT
    got = client.post(f"/ops/flows/{FLOW}/publish", data={"yaml": edited, "csrf_token": csrf,
                                                          "based_on": before})
    assert got.status_code == 302
    entry = ov.audit(store_of(app).conn, FLOW)[0]
    assert (entry["added"], entry["removed"]) == (1, 1)
    page = client.get(f"/ops/flows/{FLOW}").get_data(as_text=True)
    assert re.search(r'class="diff-count">1\+ / 1−<', page)


def test_diff_counts_ignores_the_header_and_counts_each_side() -> None:
    diff = ("--- version a\n+++ version b\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
            "@@ -9,2 +9,3 @@\n x\n+y\n+--z\n")
    assert ov.diff_counts(diff) == (3, 1)
    assert ov.diff_counts("") == (0, 0)


def test_rollback_lands_on_the_history_tab(app: Flask, client: FlaskClient) -> None:
    csrf = login(client)
    first = current(app)
    edited = TEXT.replace("description: Card issuer", "description: The card issuer", 1)
    client.post(f"/ops/flows/{FLOW}/publish", data={"yaml": edited, "csrf_token": csrf,
                                                    "based_on": first})
    got = client.post(f"/ops/flows/{FLOW}/rollback", data={"to": first, "csrf_token": csrf,
                                                           "based_on": current(app)})
    assert got.status_code == 302
    assert got.headers["Location"].endswith(f"/ops/flows/{FLOW}#history")
    assert current(app) == first


# --- times: in the flow's zone, labelled; durations on the wall clock ---------------------

def test_hms_and_local_times() -> None:
    from ivr.flowlang.hours import zone
    from ivr.ops.times import hms, local

    assert (hms(0), hms(65), hms(3600), hms(3723), hms(-5)) == ("0:00", "1:05", "1:00:00",
                                                                  "1:02:03", "0:00")
    ny = zone("America/New_York")
    assert local("2026-11-20T19:05:00+00:00", ny) == "2026-11-20 14:05:00 EST"
    assert local("2026-07-01T12:00:00", ny, short=True) == "08:00:00 EDT"   # naive is UTC
    assert local("", ny) == "" and local("not a time", ny) == "not a time"


def test_live_calls_under_a_fixed_clock_read_real_durations_in_the_flows_zone(
        app: Flask, client: FlaskClient) -> None:
    """The app's clock is fixed at 2026-11-20 14:05 EST (business hours for the flow); the
    live page measured durations from that until now and read days (155:55:36)."""
    login(client)
    sid = "CAfixedclock0000000000000000000001"
    app.test_client().post(f"/voice/{FLOW}", data={"CallSid": sid,
                                                   "From": "+15550100000"}).close()
    page = client.get("/ops/calls").get_data(as_text=True)
    row = page[page.index(sid[-10:]):]
    row = row[:row.index("</tr>")]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    started, duration, idle = cells[3], cells[4], cells[5]   # after the Call cell
    assert re.fullmatch(r"\d\d:\d\d:\d\d E[SD]T", started.strip()), started
    assert duration.strip() in {"0:00", "0:01", "0:02", "0:03"}, duration
    assert re.fullmatch(r"\d+:\d\d", idle.strip()), idle


def test_history_and_inbox_times_are_in_the_flows_zone(app: Flask, client: FlaskClient,
                                                       tmp_path: Path) -> None:
    from ivr.jobs.archive import Archive
    from ivr.server.context import settings_of

    csrf = login(client)
    before = current(app)
    edited = TEXT.replace("description: Card issuer", "description: The card issuer", 1)
    client.post(f"/ops/flows/{FLOW}/publish", data={"yaml": edited, "csrf_token": csrf,
                                                    "based_on": before})
    page = client.get(f"/ops/flows/{FLOW}").get_data(as_text=True)
    audit = page[page.index('<ol class="audit">'):]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T ·", audit)
    assert "+00:00" not in audit
    Archive.from_settings(settings_of(app)).add_inbox(
        {"sid": "CAin1", "flow": FLOW, "state": "main_menu", "said": "I found a card",
         "caller": "***1000", "at": "2026-11-20T19:05:00+00:00"})
    page = client.get("/ops/inbox?since=all").get_data(as_text=True)
    assert "2026-11-20 14:05:00 EST" in page


# --- metrics aggregated in the database: the same figures as reading every turn -------------

def test_metrics_from_aggregates_equal_reading_every_turn(tmp_path: Path,
                                                          catalog: Catalog) -> None:
    from collections import Counter
    from datetime import UTC, datetime, timedelta

    from bench.console import generate
    from ivr.jobs.archive import Archive
    from ivr.ops.metrics import asked_for_human
    from ivr.ops.trends import ENDINGS, trend

    def zero_out_state(turns: list[dict[str, Any]], flow: Flow | None) -> str:
        return next((str(t.get("from", "")) for t in turns if asked_for_human(t, flow)), "")

    archive = Archive(tmp_path / "big.db", "k")
    generate(archive, 800, 30)
    flows = {}
    for fid in ("card-services", "clinic-appointments"):
        compiled = catalog.get(fid)
        assert compiled is not None
        flows[fid] = compiled.flow
    now = datetime.now(UTC)
    for period, since in (("all", None), ("7d", now - timedelta(days=7))):
        got = {fid: trend(archive, fid, flows[fid], period, now).totals for fid in flows}
        calls: Counter[str] = Counter()
        outcomes: dict[str, Counter[str]] = {f: Counter() for f in flows}
        zero: dict[str, Counter[str]] = {f: Counter() for f in flows}
        for _sid, fid, outcome, turns in archive.calls_with_turns(since):
            calls[fid] += 1
            outcomes[fid][outcome if outcome in ENDINGS else "rest"] += 1
            state = zero_out_state(turns, flows[fid])
            if state:
                zero[fid][state] += 1
        for fid in flows:
            assert got[fid].calls == calls[fid] > 0
            assert got[fid].outcomes == outcomes[fid]
            assert got[fid].zero_outs == zero[fid] and sum(zero[fid].values()) > 0
