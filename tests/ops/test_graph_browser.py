"""The graph and the metrics charts in a real browser (playwright + Debian Chromium):
open a flow's graph, labels readable at the start (≥ 11 px), zoom in and out, drag,
click a state → the Editor tab with that state's YAML line selected; the metrics page's
period change redraws its charts. Screenshots 30–33 (1280 px) and their 390 px twins
with ``OPS_SCREENSHOTS=docs/screenshots``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr.jobs.archive import Archive
from ivr.ops.graph_map import heat
from tests.ops.serving import serving
from tests.ops.test_graph_map import seed_recent
from tests.ops.test_ops import FLOW, TEXT, make_app
from tests.ops.test_ops_browser import CHROMIUM, ready, shot, sync_api

pytestmark = [pytest.mark.redis, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")]
MENU_LINE = TEXT.splitlines().index("  main_menu:") + 1
LABEL_PX = """() => {
  const t = [...document.querySelectorAll('#map g.node[data-state="main_menu"] text')][0];
  return t.getBoundingClientRect().height;
}"""


@pytest.fixture
def server(redis_url: str, tmp_path: Path) -> Iterator[str]:
    archive = str(tmp_path / "archive.db")
    seed_recent(Archive(archive))
    app: Flask = make_app(redis_url, archive)
    with serving(app) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


def open_page(browser: Any, base: str, width: int) -> Any:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/ops/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-pw")
    page.click("button[type=submit]")
    page.wait_for_selector("table.grid")
    return page


def scale(page: Any) -> float:
    return float(page.get_attribute("#map", "data-scale"))


def test_graph_zoom_pan_and_click_to_the_yaml(browser: Any, server: str) -> None:
    page = open_page(browser, server, 1280)
    page.goto(f"{server}/ops/flows/{FLOW}#graph")
    ready(page)
    page.wait_for_selector("#map[data-loaded='7d'] svg g.node")
    assert page.evaluate(LABEL_PX) >= 11                      # readable from the start
    assert "4 calls in the last 7 days" in page.inner_text("#map-caption")
    start = scale(page)
    page.click("button[data-zoom=in]")
    page.click("button[data-zoom=in]")
    assert scale(page) == pytest.approx(start * 1.25 ** 2, rel=0.01)
    assert page.evaluate(LABEL_PX) >= 11 * 1.5
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.wheel(0, -300)                                 # wheel up: closer
    assert scale(page) > start * 1.25 ** 2
    page.click("button[data-zoom=fit]")
    assert scale(page) < start
    page.focus("#map")
    page.keyboard.press("1")
    assert scale(page) == pytest.approx(start, rel=0.01)
    page.keyboard.press("+")
    assert scale(page) == pytest.approx(start * 1.25, rel=0.01)
    before = page.get_attribute("#map svg", "viewBox").split()
    page.mouse.move(box["x"] + 500, box["y"] + 400)           # drag on the background: pans
    page.mouse.down()
    page.mouse.move(box["x"] + 400, box["y"] + 300, steps=5)
    page.mouse.up()
    after = page.get_attribute("#map svg", "viewBox").split()
    assert float(after[0]) > float(before[0]) and float(after[1]) > float(before[1])
    assert page.is_visible("#graph")                          # a drag is not a click
    page.keyboard.press("0")                                  # the whole flow, then closer
    node = '#map g.node[data-state="main_menu"]'               # to main_menu under the mouse
    for _ in range(3):
        at = page.locator(node).bounding_box()
        page.mouse.move(at["x"] + at["width"] / 2, at["y"] + at["height"] / 2)
        page.mouse.wheel(0, -400)
    assert page.evaluate(LABEL_PX) >= 11
    page.click(f"{node} text >> nth=0")
    page.wait_for_selector("#editor.on")
    page.wait_for_function("() => window.ivrEditor && ivrEditor.hasFocus")
    got = page.evaluate("""() => { const s = ivrEditor.state, n = s.doc.lineAt(
        s.selection.main.head).number; return [n, s.doc.line(n).text.trim()]; }""")
    assert got == [MENU_LINE, "main_menu:"]                   # the editor, at the state's line
    shot(page, "31-graph-zoomed-editor")


def test_graph_event_for_the_editor(browser: Any, server: str) -> None:
    page = open_page(browser, server, 1280)
    page.goto(f"{server}/ops/flows/{FLOW}#graph")
    ready(page)
    page.wait_for_selector("#map[data-loaded] svg g.node")
    page.evaluate("""() => { window.lines = [];
        document.addEventListener('ivr:goto-line', (e) => window.lines.push(e.detail.line)); }""")
    page.focus('#map g.node[data-state="balance"]')
    page.keyboard.press("Enter")                              # the keyboard way
    balance = TEXT.splitlines().index("  balance:") + 1
    assert page.evaluate("window.lines") == [balance]
    page.goto(f"{server}/ops/flows/{FLOW}?since=7d#graph")    # a new page, not a new hash
    page.wait_for_selector("#map[data-loaded='7d']")
    page.click("#graph nav.periods a[data-since='30d']")
    page.wait_for_selector("#map[data-loaded='30d']")
    assert page.get_attribute('#map g.node[data-state="main_menu"]', "data-calls") == "5"
    assert "since=30d" in page.url
    page.click("button[data-zoom=in]")
    page.click("button[data-zoom=in]")
    shot(page, "31-graph-zoomed")


def test_metrics_period_change_redraws_the_charts(browser: Any, server: str) -> None:
    page = open_page(browser, server, 1280)
    page.goto(f"{server}/ops/metrics")
    section = f"section.metric[data-flow='{FLOW}']"
    page.wait_for_selector(f"{section} svg.chart")
    assert page.get_attribute(section, "data-buckets") == "8"
    assert page.locator(f"{section} svg.chart").first.locator("g.bar").count() == 8
    assert "days in America/New_York" in page.inner_text(f"{section} .zone")
    page.select_option("select[name=since]", "30d")
    page.wait_for_url("**since=30d")
    page.wait_for_selector(f"{section}[data-buckets='31']")
    assert page.locator(f"{section} svg.chart").first.locator("g.bar").count() == 31
    assert page.inner_text(f"{section} .kpi .n >> nth=0") == "5"
    page.click("nav.periods a[data-since='24h']")
    page.wait_for_selector(f"{section}[data-buckets='25']")
    assert "hours in America/New_York" in page.inner_text(f"{section} .zone")


@pytest.mark.parametrize("width", [390])
def test_small_screens(browser: Any, server: str, width: int) -> None:
    page = open_page(browser, server, width)
    page.goto(f"{server}/ops/flows/{FLOW}#graph")
    page.wait_for_selector("#map[data-loaded] svg g.node")
    assert page.evaluate(LABEL_PX) >= 11
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    shot(page, f"30-graph-{width}")
    page.goto(f"{server}/ops/metrics?since=30d")
    page.wait_for_selector("svg.chart")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    shot(page, f"32-metrics-{width}", full=True)


def test_a_busy_month_on_the_graph_and_the_charts(browser: Any, redis_url: str,
                                                  tmp_path: Path) -> None:
    """600 generated calls over 30 days (bench.console_metrics): the heat map and the
    charts with something to show (the screenshots of docs/ops-console.md)."""
    from datetime import UTC, datetime

    from bench.console_metrics import fill

    archive = str(tmp_path / "busy.db")
    fill(archive, 600, datetime.now(UTC))
    app = make_app(redis_url, archive)
    with serving(app) as base:
        page = open_page(browser, base, 1280)
        page.goto(f"{base}/ops/flows/{FLOW}?since=30d#graph")
        page.wait_for_selector("#map[data-loaded='30d'] svg g.node")
        menu = '#map g.node[data-state="main_menu"]'
        zero = int(page.get_attribute(menu, "data-zero-outs") or 0)
        calls = int(page.get_attribute(menu, "data-calls") or 0)
        assert calls == 600 and 0.15 < zero / calls < 0.30             # 20% zero out there
        assert page.locator(f"{menu} [fill='{heat(zero / calls)}']").count() == 1
        page.focus("#map")
        page.keyboard.press("0")
        for _ in range(2):
            at = page.locator(menu).bounding_box()
            page.mouse.move(at["x"] + at["width"] / 2, at["y"] + at["height"] / 2)
            page.mouse.wheel(0, -300)
        shot(page, "30-graph")
        page.goto(f"{base}/ops/metrics?since=30d")
        page.wait_for_selector("svg.chart")
        assert page.locator(f"section.metric[data-flow='{FLOW}'] svg.chart").first \
            .locator("g.bar rect.c-completed").count() >= 25
        shot(page, "33-metrics-30d", full=True)
        page.goto(f"{base}/ops/metrics?since=7d")
        page.wait_for_selector("svg.chart")
        shot(page, "32-metrics", full=True)
