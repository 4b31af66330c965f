"""In Chromium: the inbox's groups → "Draft this edit" → the editor shows the draft → Publish
→ the flow's current version has the callers' phrase. Screenshots 50-inbox-groups (1280 px)
and 50-inbox-groups-390 (390 px) with OPS_SCREENSHOTS=docs/screenshots."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from ivr.qa.meaning import embedder
from ivr.server.context import store_of
from tests.ops.test_ops import FLOW
from tests.ops.test_ops_browser import log_in, ready, shot
from tests.ops.test_ops_browser import page as page  # noqa: F401 - the fixtures
from tests.ops.test_ops_browser import server as server  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.slow]
FOUND = "found a card on the street"


def test_a_group_becomes_a_published_intent(page: Any, server: tuple[str, Flask]) -> None:  # noqa: F811
    base, app = server
    store = store_of(app)
    before = store.current(FLOW)
    log_in(page, base)
    page.goto(f"{base}/ops/inbox?since=all")  # the seeded items are of 2026-11-20
    page.wait_for_selector("ol.groups li.group .suggestion")
    group = page.locator("ol.groups li.group", has_text=FOUND).first
    if embedder()[0] is not None:  # by meaning, the three found-card callers are one group
        assert group.locator(".count").inner_text() == "3"
    else:
        assert "grouped by spelling" in page.inner_text("#grouping-note")
    assert "A new intent" in group.locator(".suggestion .what").inner_text()
    shot(page, "50-inbox-groups", full=True)
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "50-inbox-groups-390", full=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    intent = group.locator("input[name=intent]").get_attribute("value")
    group.locator("button", has_text="Draft this edit").click()
    ready(page)
    page.wait_for_function("!!window.ivrEditor")  # the server checked the draft: its problems show
    text = page.evaluate("ivrEditor.state.doc.toString()")
    assert f"      {intent}:" in text or f"      {intent}: {{" in text
    assert f'"{FOUND}"' in text and "# from the inbox (" in text
    assert "your edit (not published)" in page.inner_text(".editor-head")
    line = int(page.get_attribute(".editor", "data-goto-line") or 0)   # the draft opens there
    page.wait_for_function("(n) => ivrEditor.state.doc.lineAt("
                           "ivrEditor.state.selection.main.head).number === n", arg=line)
    assert line > 100 and f"(line {line})" in page.inner_text(".flash")
    assert page.locator("#problems li.error").count() == 0
    assert store.current(FLOW) == before
    shot(page, "51-inbox-draft")
    page.fill("input[name=note]", "found card from the inbox")
    page.click("#publish")
    page.wait_for_selector(".flash.ok")
    now = store.current(FLOW)
    published = store.flow_text(FLOW, now) if now else ""
    assert now != before and published and f'"{FOUND}"' in published
