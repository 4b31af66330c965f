"""Injection, in a real Chromium: hostile text in every field that reaches a console page.

Each payload goes everywhere at once (the flow's description, a prompt and a phrase, a
state name in a broken draft and so in its problem messages, the audit note, what a
caller said in the simulator, in live calls and in the inbox via the archive, state names
in archived turns (metrics), the login form's user name and ``next``, a flow id in a URL
and in the New flow form), then every page is loaded and the DOM is asked whether
anything appeared that the page did not author: an element or attribute with the
payloads' ``data-pwn`` marker, an event-handler attribute, an inline script, a
``<dialog>``, an inline ``position`` style, a ``javascript:`` URL, a JS dialog, the
payloads' ``window.__pwned``. The payload must also be visible as text on most pages, so
the test cannot pass by showing nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from flask import Flask

from ivr.jobs.archive import Archive
from ivr.ops import versions as ov
from ivr.server.context import store_of
from ivr.store.keys import CALL
from tests.ops.test_ops import FLOW, TEXT
from tests.ops.test_ops_browser import log_in, paste_yaml
from tests.ops.test_ops_browser import page as page  # noqa: F401 - the fixtures
from tests.ops.test_ops_browser import server as server  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.slow]
PAYLOADS = [
    '<img src=x data-pwn=1 onerror="window.__pwned=1">PWN1',
    '"><b data-pwn=2 onmouseover="window.__pwned=2">PWN2</b>',
    "'><b data-pwn=3 onclick='window.__pwned=3'>PWN3</b>",
    "javascript:window.__pwned=4//PWN4",
    '</script><script>window.__pwned=5</script><b data-pwn=5>PWN5</b>',
    '<div data-pwn=6 style="position:fixed;inset:0;background:red">PWN6</div>',
    '<dialog open data-pwn=7>PWN7</dialog><style>body{display:none}</style>',
    '" style="position:fixed;top:0" data-pwn="8" x="PWN8',
    "<svg><a href=\"javascript:window.__pwned=9\" data-pwn=9>PWN9</a></svg>",
    "{{7*7}}<a href='javascript:alert(10)' data-pwn=10>PWN10</a>",
]
PROBE = """() => {
  const q = (s) => document.querySelectorAll(s).length;
  const all = [...document.querySelectorAll('*')];
  return {
    marker: q('[data-pwn]'),
    handlers: all.filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
    inline_scripts: [...document.scripts]
      .filter((s) => !s.src && s.type !== 'application/json').length,
    dialogs: q('dialog') + q('body style'),
    // CodeMirror's own gutter column is sticky (an inline style it sets, not text)
    positioned: q('[style*="position" i]:not(.cm-editor > .cm-scroller > .cm-gutters)'),
    js_urls: q('[href^="javascript:" i],[src^="javascript:" i],[action^="javascript:" i],' +
               '[formaction^="javascript:" i]'),
    pwned: window.__pwned || 0,
  };
}"""


def flow_text(payload: str) -> str:
    """The shipped flow with ``payload`` in its description, a prompt and a phrase."""
    data = yaml.safe_load(TEXT)
    data["description"] = f"desc {payload}"
    data["states"]["welcome"]["say"] += f" {payload}"
    intents = data["states"]["main_menu"]["intents"]
    first = next(iter(intents.values()))
    first.setdefault("phrases", []).append(f"phrase {payload}")
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def broken_draft(payload: str) -> str:
    """A draft whose unknown ``next:`` target is the payload (so problem messages hold it)."""
    return TEXT.replace("next: check_hours", f"next: {json.dumps(payload)}", 1)


def seed(app: Flask, payload: str, n: int) -> None:
    """The payload in the archive (inbox, metrics) and in a live call's state."""
    s = app.extensions["ivr.settings"]
    archive = Archive(s.archive_path, "test-key")
    at = datetime.now(UTC).isoformat()
    archive.add_inbox({"sid": f"CApwn{n}", "flow": FLOW, "state": "main_menu",
                       "said": f"said {payload}", "caller": "***1234", "at": at})
    turns = [{"turn": 1, "from": "", "to": "main_menu", "heard": {"kind": "start"}},
             {"turn": 2, "from": f"st {payload}", "to": "human",
              "heard": {"kind": "speech", "text": f"heard {payload}"}}]
    archive.record_call({"sid": f"CApwn{n}", "flow": FLOW, "outcome": "human",
                         "reason": f"reason {payload}", "path": [f"p {payload}"],
                         "started": at, "ended": at}, turns)
    conn = store_of(app).conn
    key = next(k for k in conn.scan_iter(CALL.format("*")) if conn.hget(k, "state"))
    state = json.loads(conn.hget(key, "state"))
    state.update(state=f"st {payload}", path=[f"p {payload}"], heard=f"heard {payload}",
                 reason=f"reason {payload}")
    conn.hset(key, "state", json.dumps(state))


def probe(page: Any, counts: dict[str, int], where: str, payload: str,
          shown: list[str]) -> None:
    page.wait_for_load_state("domcontentloaded")
    got = page.evaluate(PROBE)
    bad = {k: v for k, v in got.items() if v}
    assert not bad, (where, payload, bad)
    if payload.split("PWN")[-1] and f"PWN{payload.split('PWN')[-1][:2]}".rstrip("<\"'/") in \
            page.inner_text("body"):
        shown.append(where)
    counts[where] = counts.get(where, 0) + 1


def pages(base: str, payload: str) -> Iterator[tuple[str, str]]:
    """(name, URL) of every console page with the payload in its query where one is read."""
    q = quote(payload, safe="")
    yield "flows", f"{base}/ops/flows"
    yield "flow", f"{base}/ops/flows/{FLOW}"
    yield "flow-history", f"{base}/ops/flows/{FLOW}#history"
    yield "flow-graph", f"{base}/ops/flows/{FLOW}#graph"
    yield "not-found", f"{base}/ops/flows/{q}"
    yield "sim-pick", f"{base}/ops/sim?flow={q}"
    yield "calls", f"{base}/ops/calls?ended=1"
    yield "inbox", f"{base}/ops/inbox?flow={q}&since={q}&handled=1"
    yield "inbox-all", f"{base}/ops/inbox?since=all&handled=1"
    yield "metrics", f"{base}/ops/metrics?since={q}"
    yield "metrics-all", f"{base}/ops/metrics?since=all"
    yield "new-flow", f"{base}/ops/flows/new?flow_id={q}"


@pytest.mark.timeout(900)
def test_no_payload_becomes_markup_on_any_page(page: Any,  # noqa: F811
                                               server: tuple[str, Flask]) -> None:  # noqa: F811
    base, app = server
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    counts: dict[str, int] = {}
    shown: list[str] = []
    store = store_of(app)
    for n, payload in enumerate(PAYLOADS):
        page.context.clear_cookies()
        page.goto(f"{base}/ops/login?next={quote('/ops/flows?x=' + payload, safe='')}")
        probe(page, counts, "login-next", payload, shown)
        page.fill("input[name=username]", payload)
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
        probe(page, counts, "login-failed", payload, shown)
        log_in(page, base)
        got = ov.publish(store, FLOW, flow_text(payload), store.current(FLOW) or "", "alice",
                         note=f"note {payload}")
        assert got.ok, got.message
        seed(app, payload, n)
        for name, url in pages(base, payload):
            page.goto(url)
            probe(page, counts, name, payload, shown)
        _editor_and_refusals(page, base, payload, counts, shown)
        _simulator(page, base, payload, counts, shown)
    print(f"\ninjection: {len(PAYLOADS)} payloads x {len(counts)} pages = "
          f"{sum(counts.values())} page loads, 0 foreign elements; payload shown as text on "
          f"{len(shown)} of them")
    assert not dialogs
    assert len(shown) >= len(PAYLOADS) * 10, sorted(set(shown))


def set_text(page: Any, selector: str, text: str) -> None:
    """Put ``text`` in the editor as one edit: pasted into CodeMirror when the page has it
    (the flow page, New flow), else a textarea's ``input`` event, like a paste: playwright's
    fill of 15 kB takes 30-40 s on this machine."""
    if selector == "#yaml" and page.locator(".cm-content").count():
        paste_yaml(page, text)
        return
    page.eval_on_selector(selector, "(ta, v) => { ta.value = v; "
                          "ta.dispatchEvent(new Event('input', {bubbles: true})); }", text)


def _editor_and_refusals(page: Any, base: str, payload: str, counts: dict[str, int],
                         shown: list[str]) -> None:
    page.goto(f"{base}/ops/flows/{FLOW}")
    set_text(page, "#yaml", broken_draft(payload))
    page.wait_for_selector("#problems li.error")
    probe(page, counts, "editor-problems", payload, shown)
    page.fill("input[name=note]", payload)
    page.evaluate("document.getElementById('publish-form').submit()")
    page.wait_for_selector("#refused")
    probe(page, counts, "publish-refused", payload, shown)
    page.goto(f"{base}/ops/flows/new")
    page.fill("input[name=flow_id]", "x-" + str(abs(hash(payload)) % 1000))
    set_text(page, "#yaml", broken_draft(payload).replace(f"flow: {FLOW}", "flow: other", 1))
    page.click("#create")
    page.wait_for_selector("#refused")
    probe(page, counts, "new-flow-refused", payload, shown)


def _simulator(page: Any, base: str, payload: str, counts: dict[str, int],
               shown: list[str]) -> None:
    page.goto(f"{base}/ops/flows/{FLOW}")
    page.click("text=▶ Call the current version")
    page.wait_for_selector("#say")
    probe(page, counts, "sim-start", payload, shown)
    page.fill("#say", payload)
    page.click(".say-form button[type=submit]")
    page.wait_for_selector(".transcript")
    probe(page, counts, "sim-said", payload, shown)
