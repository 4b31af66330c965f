"""In Chromium: a refused publish keeps the text (refused in the page before sending, and
after the server's 413 page, by going back), and a rollback lands on the history tab."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.ops.test_bodies_browser import MAX_BODY
from tests.ops.test_bodies_browser import small_page as small_page  # noqa: F401 - fixtures
from tests.ops.test_bodies_browser import small_server as small_server  # noqa: F401
from tests.ops.test_injection_browser import set_text
from tests.ops.test_ops import FLOW, TEXT
from tests.ops.test_ops_browser import log_in, ready, replace_yaml

pytestmark = [pytest.mark.redis, pytest.mark.slow]
BIG = TEXT + "\n# " + "x" * (MAX_BODY - len(TEXT.encode())) + "\n"


def test_too_large_is_refused_in_the_page_with_the_reason(
        small_page: Any, small_server: tuple[str, Flask]) -> None:  # noqa: F811
    base, _app = small_server
    page = small_page
    log_in(page, base)
    page.goto(f"{base}/ops/flows/{FLOW}")
    ready(page)
    set_text(page, "#yaml", BIG)
    page.evaluate("document.getElementById('publish').disabled = false")
    page.click("#publish")
    page.wait_for_selector("#publish-form .refused-size[role=alert]")
    why = page.inner_text("#publish-form .refused-size")
    assert "over the server's limit of 24,000 bytes" in why and "kept" in why
    assert page.url.endswith(f"/ops/flows/{FLOW}")
    assert page.eval_on_selector("#yaml", "ta => ta.value") == BIG


def test_the_servers_413_page_goes_back_to_the_text(
        small_page: Any, small_server: tuple[str, Flask]) -> None:  # noqa: F811
    base, _app = small_server
    page = small_page
    log_in(page, base)
    page.goto(f"{base}/ops/flows/{FLOW}")
    ready(page)
    set_text(page, "#yaml", BIG)
    # as if the page's check were missing (an old tab, scripts off): submit() skips it
    with page.expect_navigation():
        page.evaluate("document.getElementById('publish-form').submit()")
    assert "Too large" in page.inner_text("h1")
    assert "your text is still in the editor" in page.inner_text(".error-message")
    page.click("#go-back")
    page.wait_for_url(f"{base}/ops/flows/{FLOW}")
    ready(page)
    page.wait_for_function("(n) => document.getElementById('yaml').value.length === n",
                           arg=len(BIG))
    assert page.eval_on_selector("#yaml", "ta => ta.value") == BIG
    assert "was not published" in page.inner_text(".restored-text")


def test_rollback_lands_on_the_history_tab(small_page: Any,  # noqa: F811
                                           small_server: tuple[str, Flask]) -> None:  # noqa: F811
    base, _app = small_server
    page = small_page
    log_in(page, base)
    page.goto(f"{base}/ops/flows/{FLOW}")
    ready(page)
    v1 = page.inner_text("h1 code.ver")
    replace_yaml(page, TEXT.replace("You can press 0 at any time", "Press 0 any time", 1))
    page.wait_for_selector("#check-status .badge.ok")
    page.click("#publish")
    page.wait_for_selector(".flash.ok")
    page.click("nav.tabs a[data-tab=history]")
    assert "1+ / 1−" in page.inner_text("ol.audit .diff-count")
    page.on("dialog", lambda d: d.accept())
    page.click(f"tr:has(code:text('{v1}')) button:text('Roll back to this')")
    page.wait_for_selector(".flash.ok:has-text('Rolled back to version')")
    assert page.url.endswith("#history")
    assert page.is_visible("section#history") and not page.is_visible("section#editor")
    assert page.inner_text("h1 code.ver") == v1
