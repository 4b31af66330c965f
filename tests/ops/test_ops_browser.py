"""The ops console in a real browser: playwright driving the system Chromium.

Skipped (with the reason) when the ``playwright`` package or ``/usr/bin/chromium`` is
missing. Install: ``apt-get install -y chromium`` and ``pip install playwright`` (never
``playwright install``: the Debian Chromium is used through ``executable_path``).

With ``OPS_SCREENSHOTS=docs/screenshots`` the journeys also save a screenshot of every page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr.jobs.archive import Archive
from ivr.server.context import store_of
from ivr.store.keys import CALL
from tests.ops.serving import serving
from tests.ops.test_ops import FLOW, TEXT, make_app

CHROMIUM = os.environ.get("IVR_CHROMIUM", "/usr/bin/chromium")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not shutil.which(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)

pytestmark = [pytest.mark.redis, pytest.mark.slow]
SHOTS = os.environ.get("OPS_SCREENSHOTS", "")
TYPO_LINE = TEXT.splitlines().index("    next: check_hours") + 1


def shot(page: Any, name: str, full: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full)


def ready(page: Any) -> None:
    """Wait until ops.js has attached its handlers (``body[data-ready]``): the deferred
    script runs after the page is parsed, so an element can be visible and fillable before
    its input listener exists; an edit made then is never checked."""
    page.wait_for_selector("body[data-ready='1']", state="attached")


PASTE = """(el, text) => {
    const dt = new DataTransfer();
    dt.setData("text/plain", text);
    el.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true,
                                                  cancelable: true}));
}"""


def paste_yaml(page: Any, text: str) -> None:
    """Replace the CodeMirror editor's text as a person pasting does: focus the editor,
    select all (Ctrl+A), then a real ``paste`` event on ``.cm-content`` that CodeMirror's
    own clipboard handler reads (one transaction, ``input.paste``).

    Not ``page.fill``/``keyboard.insert_text``: those send the whole text through
    Chromium's ``Input.insertText`` (the IME commit path), and with a 15 KB flow on two
    loaded cores that call did not return within 30 s although the text had landed (the
    flake of ``test_typo_is_flagged_at_its_line_then_fixed``). Short keyboard input stays
    ``page.keyboard.type``."""
    page.click(".cm-content")
    page.keyboard.press("Control+a")
    page.eval_on_selector(".cm-content", PASTE, text)
    page.keyboard.press("Control+Home")


def replace_yaml(page: Any, text: str) -> None:
    """:func:`paste_yaml`, then wait until the console has checked the new text
    (``.editor[data-checked]`` moves on), so the next assertion never reads the badge the
    old text had."""
    before = page.get_attribute(".editor", "data-checked") or "0"
    paste_yaml(page, text)
    page.wait_for_function("(n) => +(document.querySelector('.editor').dataset.checked || 0) > n",
                           arg=int(before))


def seed_archive(path: str) -> None:
    """Calls, zero-outs and "other" captures that make the inbox and metrics pages real."""
    a = Archive(path)
    at = "2026-11-20T19:{:02d}:00+00:00"
    start = {"turn": 1, "from": "", "to": "main_menu", "heard": {"kind": "start"}}
    zero = [("main_menu", {"kind": "digits", "digits": "0"})] * 6 + [
        ("main_menu", {"kind": "speech", "text": "agent"})] * 3 + [
        ("payment", {"kind": "digits", "digits": "0"})] * 2 + [
        ("dispute", {"kind": "speech", "text": "real person"})]
    for i, (state, heard) in enumerate(zero):
        turns = [start, {"turn": 2, "from": state, "to": "human", "heard": heard}]
        a.record_call({"sid": f"CAzero{i}", "flow": FLOW, "outcome": "human",
                       "started": at.format(i), "ended": at.format(i)}, turns)
    for i, outcome in enumerate(["completed"] * 14 + ["other"] * 5 + ["voicemail", "hangup"]):
        a.record_call({"sid": f"CAcall{i}", "flow": FLOW, "outcome": outcome,
                       "started": at.format(i), "ended": at.format(i)}, [start])
    said = ["I found somebody's credit card on the sidewalk", "found a card on the street",
            "I found a wallet with a card in it", "I want to increase my credit limit",
            "can I raise my credit limit", "my card got declined at the store",
            "why was my card declined", "I need a new PIN", "update my mailing address"]
    for i, text in enumerate(said):
        a.add_inbox({"sid": f"CAother{i}", "flow": FLOW, "state": "main_menu", "said": text,
                     "caller": f"***{1000 + i}", "at": at.format(i)})


def live_calls(app: Flask) -> None:
    """A few calls in progress, started a little while ago (by the real clock)."""
    client = app.test_client()
    conn = store_of(app).conn
    now = datetime.now(UTC)
    for i, digits in enumerate(["", "1", "0", "2"]):
        sid = f"CA{i}f3e2a9c0d4b7e6a1c5f8d2b9e0a7c4{i}"
        client.post(f"/voice/{FLOW}", data={"CallSid": sid,
                                            "From": f"+1555010{i:04d}"}).close()
        if digits:  # closed: the live-call index is written once a response is sent
            client.post(f"/voice/{FLOW}/event?e=turn&turn=1",
                        data={"CallSid": sid, "Digits": digits}).close()
        state = json.loads(conn.hget(CALL.format(sid), "state"))
        state["started"] = (now - timedelta(seconds=37 + 71 * i)).isoformat()
        conn.hset(CALL.format(sid), "state", json.dumps(state))


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    archive = str(tmp_path / "archive.db")
    seed_archive(archive)
    app = make_app(redis_url, archive)
    with serving(app) as base:
        live_calls(app)
        yield base, app


@pytest.fixture
def page(server: tuple[str, Flask]) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(30_000)  # CI shares 2 cores: a slow paint is not a failure
        try:
            yield pg
        finally:
            browser.close()


def log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/ops/flows")
    assert "/ops/login" in page.url
    shot(page, "01-login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-pw")
    page.click("button[type=submit]")
    page.wait_for_selector("table.grid")
    shot(page, "02-flows")


def test_typo_is_flagged_at_its_line_then_fixed(page: Any, server: tuple[str, Flask]) -> None:
    base, _app = server
    log_in(page, base)
    page.click(f"text={FLOW}")
    ready(page)
    replace_yaml(page, TEXT.replace("next: check_hours", "next: check_hour", 1))
    page.wait_for_selector("#problems li.error")
    problem = page.inner_text("#problems li.error")
    assert f"line {TYPO_LINE}:" in problem and "IVR201" in problem
    assert "did you mean 'check_hours'" in problem
    assert page.locator(".editor .cm-gutter-lint .cm-lint-marker-error").count() == 1
    assert page.locator(".editor .cm-lintRange-error").inner_text() == "check_hour"
    assert page.evaluate(f"ivrEditor.state.doc.line({TYPO_LINE}).text") == "    next: check_hour"
    assert page.eval_on_selector("#yaml", "ta => ta.value") == TEXT.replace(
        "next: check_hours", "next: check_hour", 1)  # the form posts the editor's text
    assert page.is_disabled("#publish")
    page.click("#problems .loc")                      # jump to the line
    head = "ivrEditor.state.doc.lineAt(ivrEditor.state.selection.main.head).number"
    page.wait_for_function(f"{head} === {TYPO_LINE}")
    shot(page, "03-flow-editor-typo")
    replace_yaml(page, TEXT)
    page.wait_for_selector("#check-status .badge.ok")
    assert page.locator("#problems li").count() == 0
    assert not page.is_disabled("#publish")
    page.click("nav.tabs a[data-tab=graph]")
    page.wait_for_selector("#map[data-loaded] svg g.node")
    shot(page, "04-flow-graph")


def test_simulate_zero_out_publish_and_roll_back(page: Any, server: tuple[str, Flask]) -> None:
    base, app = server
    log_in(page, base)
    page.goto(f"{base}/ops/flows/{FLOW}")
    page.click("text=▶ Call the current version")
    page.wait_for_selector(".keypad")
    assert "main_menu" in page.inner_text(".transcript")
    page.fill("#say", "I found somebody's credit card")
    page.click(".say-form button[type=submit]")
    page.wait_for_selector(".keypad")
    page.click(".keypad button.key.zero")
    page.wait_for_selector("text=A person is being rung")
    page.click("text=They answer")
    page.wait_for_selector("#outcome")
    assert "reached a person" in page.inner_text("#outcome")
    shot(page, "05-simulator", full=False)
    with page.expect_download() as download:
        page.click("text=Download transcript YAML")
    assert "outcome: human" in Path(download.value.path()).read_text()

    page.goto(f"{base}/ops/flows/{FLOW}")
    v1 = page.inner_text("h1 code.ver")
    replace_yaml(page, TEXT.replace("You can press 0 at any time", "Press 0 any time", 1))
    page.wait_for_selector("#check-status .badge.ok")
    page.fill("input[name=note]", "shorter welcome")
    page.click("#publish")
    page.wait_for_selector(".flash.ok")
    assert "Published version" in page.inner_text(".flash.ok")
    v2 = page.inner_text("h1 code.ver")
    assert v2 != v1
    page.click("nav.tabs a[data-tab=history]")
    page.on("dialog", lambda d: d.accept())
    page.click(f"tr:has(code:text('{v1}')) button:text('Roll back to this')")
    page.wait_for_selector(".flash.ok:has-text('Rolled back to version')")  # not the old page's
    assert "Rolled back to version" in page.inner_text(".flash.ok")
    assert page.inner_text("h1 code.ver") == v1
    page.click("nav.tabs a[data-tab=history]")
    page.locator("ol.audit details").first.click()
    shot(page, "06-flow-history", full=False)


def test_live_calls_inbox_metrics_pages(page: Any, server: tuple[str, Flask]) -> None:
    base, _app = server
    log_in(page, base)
    page.goto(f"{base}/ops/calls")
    assert re.search(r"\d+ active", page.inner_text("#active-count"))
    assert "main_menu" in page.inner_text("table.grid")
    shot(page, "07-live-calls")
    page.goto(f"{base}/ops/inbox?since=all")
    assert "found" in page.inner_text("ol.groups")
    shot(page, "08-inbox")
    page.locator("button:text('✓ Handled')").first.click()
    page.wait_for_selector(".flash.ok")
    page.goto(f"{base}/ops/metrics?since=all")
    assert "main_menu" in page.inner_text("section.metric")
    shot(page, "09-metrics", full=True)
    page.goto(f"{base}/ops/sim")
    shot(page, "10-simulator-start")
