"""The CodeMirror flow editor in Chromium: a typo gets a marker at its line, completion
offers the schema's keys and the document's states, the cursor stays where the edit was
across check round trips, and publishing posts what the editor shows.

Run at 1280 and 390 px; with ``OPS_SCREENSHOTS=docs/screenshots`` it saves
40-editor, 41-editor-completion and 42-editor-problem (``-390`` for the narrow run).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from ivr.server.context import store_of
from tests.ops.test_ops import FLOW, TEXT
from tests.ops.test_ops_browser import CHROMIUM, TYPO_LINE, log_in, ready, shot, sync_api
from tests.ops.test_ops_browser import page as page  # noqa: F401 - the fixtures
from tests.ops.test_ops_browser import server as server  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.slow]
LINES = TEXT.splitlines()
NEXT_LINE = LINES.index("    next: balance_result") + 1   # in the `balance` collect state
HEAD = "ivrEditor.state.doc.lineAt(ivrEditor.state.selection.main.head).number"
CHECKED = "+(document.querySelector('.editor').dataset.checked || 0)"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(params=[1280, 390], ids=["1280px", "390px"])
def wide_page(request: pytest.FixtureRequest, server: tuple[str, Flask]) -> Any:  # noqa: F811
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        width = request.param
        pg = browser.new_context(viewport={"width": width, "height": 900}).new_page()
        pg.set_default_timeout(30_000)
        pg.width_suffix = "" if width == 1280 else f"-{width}"
        try:
            yield pg
        finally:
            browser.close()


def checked_after(page: Any, n: int) -> None:
    page.wait_for_function(f"(n) => {CHECKED} > n", arg=n)


def checks(page: Any) -> int:
    return int(page.evaluate(CHECKED))


def goto_line(page: Any, line: int) -> None:
    """What the graph does on a node click: the document event the editor listens for."""
    page.evaluate("(line) => document.dispatchEvent(new CustomEvent('ivr:goto-line', "
                  "{detail: {line}}))", line)
    page.wait_for_function(f"(n) => {HEAD} === n", arg=line)


def line_visible(page: Any, line: int) -> bool:
    return bool(page.evaluate("""(n) => {
        const v = ivrEditor, pos = v.state.doc.line(n).from;
        const at = v.coordsAtPos(pos), box = v.scrollDOM.getBoundingClientRect();
        return !!at && at.top >= box.top && at.bottom <= box.bottom;
    }""", line))


def labels(page: Any) -> list[str]:
    """The open completion list, once it has caught up with the last key (CodeMirror
    queries a moment after typing, ``activateOnTypingDelay``)."""
    page.wait_for_timeout(200)
    page.wait_for_selector(".cm-tooltip-autocomplete li")
    got: list[str] = page.eval_on_selector_all(
        ".cm-tooltip-autocomplete li .cm-completionLabel", "els => els.map(e => e.textContent)")
    return got


def accept(page: Any) -> None:
    """Enter on the open list, once CodeMirror takes it (``interactionDelay``, 75 ms, keeps
    an Enter typed just as the list opens from choosing for you)."""
    page.wait_for_timeout(150)
    page.keyboard.press("Enter")


def test_edit_with_markers_completion_and_publish(wide_page: Any,
                                                  server: tuple[str, Flask]) -> None:  # noqa: F811
    page, (base, app) = wide_page, server
    sfx = page.width_suffix
    log_in(page, base)
    page.goto(f"{base}/ops/flows/{FLOW}")
    ready(page)
    page.wait_for_selector(".editor.cm .cm-content")
    assert page.is_hidden("#yaml")                       # the form's field, kept in sync
    assert page.locator(".editor .cm-foldGutter").count() == 1
    assert page.locator(".cm-content .tok-propertyName, .cm-content span[class]").count() > 20
    shot(page, "40-editor" + sfx)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    _typo_gets_a_marker_and_a_fix(page, sfx)
    _completion_of_keys_then_states(page, sfx)
    page.fill("input[name=note]", "three tries to enter the PIN")
    page.click("#publish")
    page.wait_for_selector(".flash.ok")
    assert "Published version" in page.inner_text(".flash.ok")
    store = store_of(app)
    published = store.flow_text(FLOW, store.current(FLOW) or "") or ""
    assert published.splitlines()[NEXT_LINE:NEXT_LINE + 2] == ["    retries:",
                                                               "      no_input: 3"]
    assert published.splitlines()[TYPO_LINE - 1] == "    next: check_hours"


def _typo_gets_a_marker_and_a_fix(page: Any, sfx: str) -> None:
    page.click("nav.tabs a[data-tab=graph]")            # the graph's click lands here
    goto_line(page, TYPO_LINE)
    assert page.is_visible("#editor") and line_visible(page, TYPO_LINE)
    n = checks(page)
    page.keyboard.press("End")
    page.keyboard.press("Backspace")                    # check_hours -> check_hour
    checked_after(page, n)
    mark = page.locator(".editor .cm-lintRange-error")
    mark.wait_for()
    assert mark.count() == 1 and mark.inner_text() == "check_hour"
    assert page.locator(".cm-gutter-lint .cm-lint-marker-error").count() == 1
    marker_top = page.locator(".cm-gutter-lint .cm-lint-marker-error").bounding_box()["y"]
    line_top = page.evaluate(f"ivrEditor.coordsAtPos(ivrEditor.state.doc.line({TYPO_LINE}).from)"
                             ".top")
    assert abs(marker_top - line_top) < 20            # the marker is on the typo's line
    assert page.evaluate(HEAD) == TYPO_LINE and line_visible(page, TYPO_LINE)  # cursor kept
    assert page.is_disabled("#publish") and "IVR201" in page.inner_text("#problems")
    mark.hover()
    tip = page.locator(".cm-tooltip-lint")
    tip.wait_for()
    assert "next goes to unknown state 'check_hour'" in tip.inner_text()
    assert "IVR201" in tip.inner_text() and "did you mean 'check_hours'" in tip.inner_text()
    shot(page, "42-editor-problem" + sfx)
    n = checks(page)
    tip.locator(".cm-diagnosticAction").click()         # "use 'check_hours'"
    checked_after(page, n)
    page.wait_for_selector("#check-status .badge.ok")
    assert page.evaluate(f"ivrEditor.state.doc.line({TYPO_LINE}).text") == "    next: check_hours"
    assert page.locator(".editor .cm-lintRange-error").count() == 0


def _completion_of_keys_then_states(page: Any, sfx: str) -> None:
    goto_line(page, NEXT_LINE)
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    assert page.evaluate(f"ivrEditor.state.doc.line({NEXT_LINE + 1}).text") == "    "
    page.keyboard.press("Control+Space")                 # the keys a collect state can add
    got = labels(page)
    assert {"reprompt", "retries", "speech"} <= set(got)
    assert not {"collect", "next", "ask", "translations"} & set(got)  # already there
    assert "dial" not in got                             # a key of `human:`, not of a state
    shot(page, "41-editor-completion" + sfx)
    page.keyboard.type("ret")
    assert labels(page)[0] == "retries"
    accept(page)                         # accept: a mapping, so a new line
    assert page.evaluate(f"ivrEditor.state.doc.line({NEXT_LINE + 1}).text") == "    retries:"
    assert page.evaluate(f"ivrEditor.state.doc.line({NEXT_LINE + 2}).text") == "      "
    page.keyboard.press("Control+Space")                 # the keys of `retries:` now
    assert set(labels(page)) == {"no_input", "no_match", "then"}
    page.keyboard.type("no_i")
    assert labels(page) == ["no_input"]
    accept(page)
    scroll = page.evaluate("ivrEditor.scrollDOM.scrollTop")
    n = checks(page)
    page.keyboard.type("3")
    checked_after(page, n)
    page.wait_for_selector("#check-status .badge.ok")
    assert page.evaluate(f"ivrEditor.state.doc.line({NEXT_LINE + 2}).text") == \
        "      no_input: 3"
    assert page.evaluate(HEAD) == NEXT_LINE + 2          # still at the edit, after the check
    assert abs(page.evaluate("ivrEditor.scrollDOM.scrollTop") - scroll) < 2  # no jump
    assert line_visible(page, NEXT_LINE + 2)
    goto_line(page, NEXT_LINE)                           # states for `next:`
    page.keyboard.press("End")
    page.keyboard.press("Control+Shift+ArrowLeft")       # select `balance_result`
    page.keyboard.type("bal")
    got = labels(page)
    assert "balance_result" in got and "balance" not in got   # not the state itself
    accept(page)
    assert page.evaluate(f"ivrEditor.state.doc.line({NEXT_LINE}).text") == \
        "    next: balance_result"
    assert page.eval_on_selector("#yaml", "ta => ta.value") == page.evaluate(
        "ivrEditor.state.doc.toString()")


HOURS_LINE = LINES.index("    hours: {open: main_menu, closed: after_hours}") + 1


def test_completion_of_enums_and_inside_braces(page: Any,  # noqa: F811 - the fixture
                                               server: tuple[str, Flask]) -> None:  # noqa: F811
    base, _app = server
    log_in(page, base)
    page.goto(f"{base}/ops/flows/{FLOW}")
    ready(page)
    page.wait_for_selector(".editor.cm .cm-content")
    goto_line(page, NEXT_LINE)
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("speec")
    assert labels(page) == ["speech"]
    accept(page)                                         # speech:\n + 6 spaces
    page.keyboard.type("mo")
    assert labels(page)[0] == "model"
    accept(page)
    assert page.evaluate(f"ivrEditor.state.doc.line({NEXT_LINE + 2}).text") == "      model: "
    page.keyboard.type("p")                              # the speech models (an enum)
    assert "phone_call" in labels(page)
    page.keyboard.press("Backspace")
    page.keyboard.press("Control+Space")
    got = labels(page)
    assert {"deepgram_nova-3", "googlev2_telephony", "default"} <= set(got)
    assert "human" not in got                            # model is not a state target
    page.keyboard.type("phone_c")
    accept(page)
    assert page.evaluate(f"ivrEditor.state.doc.line({NEXT_LINE + 2}).text") == \
        "      model: phone_call"
    goto_line(page, HOURS_LINE)                          # {open: main_menu, closed: |}
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Control+Shift+ArrowLeft")
    page.keyboard.type("after_h")
    assert {"after_hours", "after_hours_voicemail"} <= set(labels(page))
    page.keyboard.press("Escape")
    page.keyboard.type("ours")
    assert page.evaluate(f"ivrEditor.state.doc.line({HOURS_LINE}).text") == LINES[HOURS_LINE - 1]
    for _ in range(len(", closed: after_hours")):        # {open: main_menu|}
        page.keyboard.press("Backspace")
    page.keyboard.type(", ")
    page.keyboard.press("Control+Space")
    assert labels(page) == ["closed"]                    # `open` is there already


def test_without_javascript_the_textarea_is_the_editor(server: tuple[str, Flask]) -> None:  # noqa: F811
    base, app = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900},
                                   java_script_enabled=False).new_page()
        page.set_default_timeout(30_000)
        try:
            log_in(page, base)
            page.goto(f"{base}/ops/flows/{FLOW}")
            assert page.locator(".cm-editor").count() == 0 and page.is_visible("#yaml")
            assert page.eval_on_selector("#yaml", "ta => ta.value") == TEXT
            page.eval_on_selector("#yaml", "ta => { ta.value = ta.value.replace("
                                  "'next: check_hours', 'next: check_hour'); }")
            before = store_of(app).current(FLOW)
            page.click("#publish")                       # refused, the text kept
            page.wait_for_selector("#refused")
            assert "next: check_hour\n" in page.eval_on_selector("#yaml", "ta => ta.value")
            assert "IVR201" in page.inner_text("#problems")
            assert store_of(app).current(FLOW) == before
        finally:
            browser.close()


def test_new_flow_has_the_editor_with_completion(page: Any,  # noqa: F811 - the fixture
                                                 server: tuple[str, Flask]) -> None:  # noqa: F811
    base, _app = server
    log_in(page, base)
    page.goto(f"{base}/ops/flows/new")
    ready(page)
    page.wait_for_selector(".new-flow.cm .cm-content")
    assert page.is_hidden("#yaml")
    page.click(".cm-content")
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Home")
    page.keyboard.type("h")                              # top level: keys not there yet
    got = labels(page)
    assert "hours" in got and "human" not in got
    accept(page)
    page.keyboard.press("Control+Space")
    assert set(labels(page)) == {"timezone", "open", "holidays"}
    shot(page, "43-new-flow-editor")
    assert page.eval_on_selector("#yaml", "ta => ta.value").endswith("\nhours:\n  ")
