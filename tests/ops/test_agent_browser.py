"""The agent's journey in a real browser (playwright + Debian Chromium): a call placed
through the real, signed webhooks over HTTP presses 0; the agent list shows it without a
reload; the agent opens it, reads what the caller said and sees it turn "connected" when
they answer; then the caller timeline for that number, the live calls and the queues.

Skipped like ``test_ops_browser.py`` without playwright or Chromium. With
``OPS_SCREENSHOTS=docs/screenshots`` it saves 20-24 at 1280 px (and ``-390`` at 390 px).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.security import generate_password_hash

from ivr.jobs.archive import Archive
from ivr.ops import roles
from ivr.runtime.callcode import short_code
from ivr.server.context import settings
from tests.ops.serving import serving
from tests.ops.test_ops import FLOW, USERS, make_app
from tests.ops.test_ops_browser import CHROMIUM, SHOTS, sync_api
from tests.twilio_caller import CALLER, TOKEN, TwilioCaller, http_transport

pytestmark = [pytest.mark.redis, pytest.mark.slow]
AGENT_PW = "agent-password-long"
FOUND = "I found somebody's credit card on the sidewalk"


def shots(page: Any, name: str) -> None:
    """Screenshots at 1280 px and at 390 px (a phone), then back to 1280."""
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(150)
    page.screenshot(path=str(Path(SHOTS) / f"{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def seed(app: Flask) -> None:
    """Two earlier calls of the same caller, one with a callback, one "other"."""
    with app.app_context():
        a = Archive.from_settings(settings())
        earlier = [("CAearly1", "callback", "2026-11-16T15:10:00+00:00",
                    ["welcome", "main_menu", "payment"]),
                   ("CAearly2", "other", "2026-11-18T21:40:00+00:00",
                    ["welcome", "main_menu", "other"])]
        for sid, outcome, at, path in earlier:
            a.record_call({"sid": sid, "flow": FLOW, "caller": CALLER, "outcome": outcome,
                           "path": path, "started": at, "ended": at}, [])
        a.add_callback({"sid": "CAearly1", "flow": FLOW, "caller": CALLER,
                        "at": earlier[0][2], "recording": "https://api.twilio.com/rec/RE9",
                        "duration": 12})
        a.add_inbox({"sid": "CAearly2", "flow": FLOW, "state": "other", "caller": CALLER,
                     "said": "a charge from a store I have never been to",
                     "at": earlier[1][2]})


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    users = {**USERS, "ann": roles.join("agent", generate_password_hash(AGENT_PW))}
    app = make_app(redis_url, str(tmp_path / "archive.db"), OPS_USERS=users,
                   validate_signatures=True, twilio={"auth_token": TOKEN})
    seed(app)
    with serving(app) as base:
        yield base, app


@pytest.fixture
def page(server: tuple[str, Flask]) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        try:
            yield pg
        finally:
            browser.close()
        assert errors == [], errors  # no CSP refusals, no script errors


def test_an_agent_watches_a_call_arrive_and_reads_its_story(
        page: Any, server: tuple[str, Flask]) -> None:
    base, _app = server
    page.goto(f"{base}/ops/agent")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", AGENT_PW)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Nobody is waiting for a person right now")

    call = TwilioCaller(http_transport(), base=base)  # signed, over real HTTP
    call.dial(FLOW)
    call.say(FOUND)     # no intent fits: "other" asks them in their own words
    call.press("0")     # ... and they press 0 for a person instead
    assert call.dialled == "+15551230000"
    code = short_code(call.sid)
    page.wait_for_selector(f"a.code:text('{code}')", timeout=6_000)  # no reload
    assert "waiting" in page.inner_text(f"tr[data-sid='{call.sid}']")
    assert FOUND in page.inner_text(f"tr[data-sid='{call.sid}'] td.reason")
    shots(page, "20-agent-list")

    page.click(f"a.code:text('{code}')")
    page.wait_for_selector("#story")
    assert FOUND in page.inner_text("#own-words")
    steps = page.inner_text("#steps")
    assert "Main menu" in steps and FOUND in steps and "pressed 0" in steps
    assert "Connecting to a person" in steps
    assert "Payment" in page.inner_text("table.timeline")  # their earlier calls
    call.post(call.last.xml.find("Dial/Number").get("url"),  # type: ignore[union-attr]
              call.params(), keep=False)                      # the person answers
    page.wait_for_selector("#status:text('connected')", timeout=6_000)
    assert int(page.get_attribute("#story", "data-updates") or 0) >= 1
    shots(page, "21-agent-call")

    page.click("nav.side a:text('Callers')")
    page.fill("input[name=number]", "(212) 555-1234")
    page.click("button:text('Find calls')")
    page.wait_for_selector("table.timeline")
    assert "555-1234" not in page.url and "2125551234" not in page.url
    timeline = page.inner_text("table.timeline")
    assert "a charge from a store I have never been to" in timeline
    assert "voicemail left" in timeline and "not done" in timeline
    shots(page, "22-caller-timeline")

    page.goto(f"{base}/ops/calls")
    page.wait_for_selector(f"code:text('{code}')")
    shots(page, "23-live-calls")
    page.click(f"a:has(code:text('{code}'))")           # drill down to the story
    page.wait_for_selector("#story")
    page.goto(f"{base}/ops/calls/queues")
    assert "dial (no queue)" in page.inner_text("table.queues")
    shots(page, "24-queues")
