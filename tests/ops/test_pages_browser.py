"""Every console page in Chromium at 1280 and 390 px: no sideways page scroll at 390 px,
and a screenshot of each (``<page>-1280.png``, ``<page>-390.png``) when
``OPS_SCREENSHOTS`` names a directory (``OPS_SCREENSHOTS=docs/screenshots``).

The pages are found in the app's url_map: every GET route under /ops without arguments
(so pages added later are covered without editing this file), plus a flow page with its
history tab, an error page and the simulator of a started call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr.ops import versions as ov
from ivr.server.context import store_of
from tests.ops.test_ops import FLOW, TEXT
from tests.ops.test_ops_browser import SHOTS, log_in, ready
from tests.ops.test_ops_browser import page as page  # noqa: F401 - fixtures
from tests.ops.test_ops_browser import server as server  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.slow]
WIDTHS = (1280, 390)
SKIP = {"ops.static", "ops.logout", "ops.home"}
QUERY = {"inbox": "?since=all", "metrics": "?since=all"}
"""The seeded archive is of 2026-11-20: show all of it, not the last 7 days'."""


def pages(app: Flask) -> dict[str, str]:
    """Page name → path: the url_map's argument-free GET routes under /ops, and more."""
    found: dict[str, str] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/ops") or rule.arguments or rule.endpoint in SKIP:
            continue
        if rule.rule.endswith((".json", ".svg")):
            continue  # data for a page's script, not a page
        if "GET" not in (rule.methods or ()):
            continue
        name = rule.rule.removeprefix("/ops/").strip("/").replace("/", "-") or "home"
        found[name] = rule.rule + QUERY.get(name, "")
    found["flow"] = f"/ops/flows/{FLOW}"
    found["flow-history"] = f"/ops/flows/{FLOW}#history"
    found["inbox-handled"] = "/ops/inbox?since=all&handled=1"
    found["not-found"] = "/ops/no-such-page"
    return dict(sorted(found.items()))


def save(page: Any, name: str, width: int) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"), full_page=True)


def overflow(page: Any) -> int:
    """How far the page scrolls sideways (0 when it does not)."""
    return int(page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def test_every_page_fits_390_px_and_is_screenshot(page: Any,  # noqa: F811
                                                  server: tuple[str, Flask]) -> None:  # noqa: F811
    base, app = server
    store = store_of(app)
    text = TEXT.replace("You can press 0 at any time", "Press 0 any time", 1)
    assert ov.publish(store, FLOW, text, store.current(FLOW) or "", "alice", "shorter").ok
    page.goto(f"{base}/ops/login")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        save(page, "login", width)
    log_in(page, base)
    too_wide: dict[str, int] = {}
    listed = pages(app)
    assert {"flows", "calls", "inbox", "metrics", "sim", "flows-new"} <= set(listed)
    for name, path in listed.items():
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}{path}")
            ready(page)
            page.wait_for_timeout(150)
            save(page, name, width)
            if width == 390:
                assert page.evaluate("document.documentElement.clientWidth") == 390
                if overflow(page) > 0:
                    too_wide[name] = int(page.evaluate(
                        "document.documentElement.scrollWidth"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/ops/flows/{FLOW}")
    page.click("text=▶ Call the current version")
    page.wait_for_selector(".keypad")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        save(page, "sim-call", width)
        if width == 390 and overflow(page) > 0:
            too_wide["sim-call"] = int(page.evaluate("document.documentElement.scrollWidth"))
    assert too_wide == {}, f"pages wider than 390 px (scrollWidth): {too_wide}"
