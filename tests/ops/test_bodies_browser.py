"""In Chromium: an edit over max_body is refused (413) without losing the editor's text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.ops.serving import serving
from tests.ops.test_injection_browser import set_text
from tests.ops.test_ops import FLOW, TEXT, make_app
from tests.ops.test_ops_browser import CHROMIUM, log_in, sync_api

pytestmark = [pytest.mark.redis, pytest.mark.slow]
MAX_BODY = 24_000


@pytest.fixture
def small_server(redis_url: str, tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    app = make_app(redis_url, str(tmp_path / "archive.db"), max_body=MAX_BODY)
    with serving(app) as base:
        yield base, app


@pytest.fixture
def small_page(small_server: tuple[str, Flask]) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox",
                                                                    "--disable-gpu"])
        pg = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        pg.set_default_timeout(30_000)
        try:
            yield pg
        finally:
            browser.close()


def test_an_edit_over_max_body_keeps_the_text(small_page: Any,
                                              small_server: tuple[str, Flask]) -> None:
    base, app = small_server
    page = small_page
    log_in(page, base)
    page.goto(f"{base}/ops/flows/{FLOW}")
    big = TEXT + "\n# " + "x" * (MAX_BODY - len(TEXT.encode())) + "\n"
    set_text(page, "#yaml", big)
    page.wait_for_selector("#check-status .badge.bad")
    assert "too large to check" in page.inner_text("#check-status")  # /check said 413
    page.evaluate("document.getElementById('publish').disabled = false")
    page.click("#publish")
    page.wait_for_selector("#too-large")
    assert page.url.endswith(f"/ops/flows/{FLOW}")  # not sent: still the editor
    assert page.eval_on_selector("#yaml", "ta => ta.value") == big
