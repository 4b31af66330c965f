"""The inbox page's groups with a suggestion each, and "Draft this edit": a group becomes an
unpublished draft of its flow in the editor (role ops, CSRF), published the usual way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from ivr.flowlang.catalog import check_text
from ivr.flowlang.diagnostics import errors_in
from ivr.jobs.archive import Archive
from ivr.ops import roles
from ivr.qa.meaning import embedder
from ivr.server.context import store_of
from tests.ops.test_ops import FLOW, TEXT, USERS, current, login, make_app
from tests.ops.test_ops import archive_path as archive_path  # noqa: F401 - the fixture

pytestmark = pytest.mark.redis
WALK = ["welcome", "check_hours", "main_menu", "other"]
FOUND = ["I found somebody's credit card on the sidewalk", "picked up a card someone dropped",
         "there's a card here that isn't mine", "I found a card on the street"]
VIEWER_PW = "viewer-password-long"


def seed(archive: str) -> None:
    a = Archive(archive, "k3y")
    now = datetime.now(UTC)
    for i, said in enumerate(FOUND + ["can you raise my limit", "I want a higher limit"]):
        a.add_inbox({"sid": f"CAin{i}", "flow": FLOW, "state": "other", "path": WALK,
                     "menu_said": said, "said": "I want to give it back" if i < 4 else "",
                     "caller": "+15551230000", "at": (now - timedelta(minutes=i)).isoformat()})


@pytest.fixture
def app(redis_url: str, archive_path: str) -> Flask:
    users = {**USERS, "vera": roles.join("viewer", generate_password_hash(VIEWER_PW))}
    seed(archive_path)
    return make_app(redis_url, archive_path, OPS_USERS=users)


def logged_in(app: Flask, who: str = "alice", pw: str = "alice-pw") -> tuple[FlaskClient, str]:
    c = app.test_client()
    return c, login(c, who, pw)


def forms(page: str) -> list[dict[str, list[str]]]:
    """The "Draft this edit" forms of the inbox page: field name → values."""
    out = []
    for form in re.findall(r'<form method="post" action="/ops/inbox/draft".*?</form>', page, re.S):
        fields: dict[str, list[str]] = {}
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form):
            fields.setdefault(name, []).append(unescape(value))
        out.append(fields)
    return out


def editor_text(page: str) -> str:
    found = re.search(r'<textarea name="yaml"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, page[:300]
    return unescape(found.group(1))


def test_the_inbox_shows_groups_with_a_suggestion_and_a_draft_button(app: Flask) -> None:
    c, _ = logged_in(app)
    page = c.get("/ops/inbox").get_data(as_text=True)
    assert "Top groups" in page and "Draft this edit" in page
    drafts = forms(page)
    found = [f for f in drafts if "I found a card on the street" in f["phrase"]][0]
    assert found["kind"] == ["new"] and found["state"] == ["main_menu"]
    assert found["flow"] == [FLOW] and found["intent"][0].startswith("found")
    if embedder()[0] is not None:  # by meaning: the four wordings are one group
        assert found["count"] == ["4"] and 'id="grouping-note"' not in page
        assert "can you raise my limit" in [f["phrase"] for f in drafts][1]
    else:
        assert "grouped by spelling, not meaning" in page


def test_a_viewer_sees_no_button_and_may_not_draft(app: Flask) -> None:
    c, tok = logged_in(app, "vera", VIEWER_PW)
    page = c.get("/ops/inbox").get_data(as_text=True)
    assert "Top groups" in page and "Draft this edit" not in page
    r = c.post("/ops/inbox/draft", data={"csrf_token": tok, "flow": FLOW, "state": "main_menu",
                                         "kind": "new", "intent": "found_card", "phrase": "x"})
    assert r.status_code == 403


def test_a_draft_without_the_csrf_token_is_refused(app: Flask) -> None:
    c, _ = logged_in(app)
    r = c.post("/ops/inbox/draft", data={"flow": FLOW, "state": "main_menu", "kind": "new",
                                         "intent": "found_card", "phrase": "x"})
    assert r.status_code == 403 and "CSRF token missing" in r.get_data(as_text=True)
    r = c.post("/ops/inbox/draft", data={"csrf_token": "forged", "flow": FLOW, "kind": "new",
                                         "state": "main_menu", "intent": "x", "phrase": "x"})
    assert r.status_code == 403


def test_a_new_intent_draft_opens_the_editor_unpublished(app: Flask) -> None:
    c, tok = logged_in(app)
    before = current(app)
    said = ['I found a "card": on the street', "picked up a card someone dropped"]
    r = c.post("/ops/inbox/draft", data={"csrf_token": tok, "flow": FLOW, "state": "main_menu",
                                         "kind": "new", "intent": "found_card", "count": "4",
                                         "phrase": said})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "your edit (not published)" in page
    assert "A draft from the inbox: a new intent &#39;found_card&#39; in main_menu (line " \
        f"{TEXT.splitlines().index('      other:') + 1})" in page
    text = editor_text(page)
    assert "      # from the inbox (" in text and "4 callers said this" in text
    assert f'name="based_on" value="{before}"' in page
    checked = check_text(text)
    assert errors_in(checked.problems) == [] and checked.flow is not None
    intent = [i for i in checked.flow.states["main_menu"].intents if i.name == "found_card"][0]
    assert intent.phrases == tuple(said) and intent.goto == "human"
    assert text.replace(text[text.index("      # from the inbox"):
                             text.index("      other:\n")], "") == TEXT  # only that added
    assert current(app) == before  # a draft is not published
    r = c.post(f"/ops/flows/{FLOW}/publish", data={"csrf_token": tok, "yaml": text,
                                                   "based_on": before, "note": "inbox"})
    assert r.status_code == 302 and current(app) != before
    published = store_of(app).flow_text(FLOW, current(app))
    assert published is not None and "found_card" in published


def test_an_add_phrases_draft_changes_only_that_list(app: Flask) -> None:
    c, tok = logged_in(app)
    r = c.post("/ops/inbox/draft", data={"csrf_token": tok, "flow": FLOW, "state": "main_menu",
                                         "kind": "add", "intent": "balance",
                                         "phrase": ["what's my cash back balance"]})
    text = editor_text(r.get_data(as_text=True))
    assert r.status_code == 200
    assert text == TEXT.replace('"credit limit"]', '"credit limit",\n'
                                '                  "what\'s my cash back balance"]', 1)


@pytest.mark.parametrize("form, reason", [
    ({"kind": "add", "intent": "nope"}, "has no intent"),
    ({"kind": "new", "intent": "balance"}, "already has an intent"),
    ({"kind": "new", "intent": "Bad Name"}, "must be names"),
    ({"kind": "edit", "intent": "x"}, "kind must be add or new"),
    ({"kind": "new", "intent": "x", "phrase": "  "}, "no phrases"),
    ({"kind": "new", "intent": "x", "state": "welcome"}, "not a menu"),
])
def test_a_draft_that_does_not_fit_goes_back_with_the_reason(
        app: Flask, form: dict[str, str], reason: str) -> None:
    c, tok = logged_in(app)
    data = {"csrf_token": tok, "flow": FLOW, "state": "main_menu", "phrase": "hello", **form}
    r = c.post("/ops/inbox/draft", data=data)
    assert r.status_code == 302 and "/ops/inbox" in r.headers["Location"]
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "No draft:" in page and reason in unescape(page)


def test_a_draft_of_an_unknown_flow_is_a_404(app: Flask) -> None:
    c, tok = logged_in(app)
    r = c.post("/ops/inbox/draft", data={"csrf_token": tok, "flow": "nope", "kind": "new",
                                         "state": "main_menu", "intent": "x", "phrase": "a"})
    assert r.status_code == 404


def test_odd_inbox_words_never_break_the_page(app: Flask, archive_path: str) -> None:  # noqa: F811
    a = Archive(archive_path, "k3y")
    now = datetime.now(UTC).isoformat()
    odd = ["🙂🙂", "word " * 2000, "нужна помощь с картой", "<script>alert(1)</script>", "\x00"]
    for i, said in enumerate(odd):
        a.add_inbox({"sid": f"CAodd{i}", "flow": FLOW, "state": "other", "path": WALK,
                     "menu_said": said, "said": said, "caller": "+15551230000", "at": now})
    a.add_inbox({"sid": "CAgone", "flow": "gone-flow", "state": "other", "said": "hello",
                 "caller": "+15551230000", "at": now})
    c, _ = logged_in(app)
    r = c.get("/ops/inbox")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "No menu to suggest for: gone-flow" in page
