"""The agent's pages through the Flask client: roles, the list of calls for a person, a
call's story (JSON and page, masking), short codes in the whisper, "no such call", ended
calls from the archive, the caller timeline by number, live-call filters and queues.

Calls are placed through the real, signed voice webhooks (:class:`TwilioCaller`)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from ivr.cli import main
from ivr.jobs.archive import Archive
from ivr.ops import roles
from ivr.ops.agent import resolve
from ivr.runtime.callcode import short_code, spoken
from ivr.server.context import settings
from tests.ops.test_ops import FLOW, USERS, login, make_app
from tests.ops.test_ops import archive_path as archive_path  # noqa: F401 - the fixture
from tests.twilio_caller import CALLER, TOKEN, TwilioCaller, flask_transport

pytestmark = pytest.mark.redis
AGENT_PW, VIEWER_PW = "agent-password-long", "viewer-password-long"
PIN = "73915"
FOUND = "I found somebody's credit card on the sidewalk"
RETURN = "I want to give it back to the owner"


@pytest.fixture
def app(redis_url: str, archive_path: str) -> Flask:
    users = {**USERS, "ann": roles.join("agent", generate_password_hash(AGENT_PW)),
             "vera": roles.join("viewer", generate_password_hash(VIEWER_PW))}
    return make_app(redis_url, archive_path, OPS_USERS=users, validate_signatures=True,
                    twilio={"auth_token": TOKEN})


def as_user(app: Flask, name: str, password: str) -> FlaskClient:
    c = app.test_client()
    login(c, name, password)
    return c


@pytest.fixture
def ann(app: Flask) -> FlaskClient:
    return as_user(app, "ann", AGENT_PW)


def caller(app: Flask, number: str = CALLER) -> TwilioCaller:
    return TwilioCaller(flask_transport(app.test_client()), caller=number)


def pin_then_zero(app: Flask) -> TwilioCaller:
    """Balance (2), the PIN (sensitive), then 0 for a person at the next menu."""
    c = caller(app)
    c.dial(FLOW)
    c.press("2")
    c.press(PIN)
    c.press("0")
    assert c.dialled, c.last.text if c.last else ""
    return c


def found_card(app: Flask) -> TwilioCaller:
    """Speech no intent fits → "other" → their own words → a person."""
    c = caller(app)
    c.dial(FLOW)
    c.say(FOUND)
    c.say(RETURN)
    assert c.dialled, c.last.text if c.last else ""
    return c


# --- roles ---------------------------------------------------------------------------------

def test_roles_are_ordered_viewer_agent_ops() -> None:
    assert roles.ROLES == ("viewer", "agent", "ops")
    assert roles.allows("agent", "viewer") and roles.allows("ops", "agent")
    assert not roles.allows("viewer", "agent") and not roles.allows("agent", "ops")
    assert roles.split(roles.join("agent", "h")) == ("agent", "h")


def test_ops_user_makes_an_agent() -> None:
    result = CliRunner().invoke(main, ["ops-user", "ann", "--password",
                                       "plum-kettle-orbit-9", "--role", "agent"])
    assert result.exit_code == 0, result.output
    assert '"ann": "agent scrypt:' in result.output


STORY_PAGES = ["/ops/agent", "/ops/agent/call/CA1", "/ops/agent/call/CA1/story.json",
               "/ops/callers", "/ops/agent/find?code=1234"]


@pytest.mark.parametrize("url", STORY_PAGES)
def test_a_viewer_may_not_read_callers_stories(app: Flask, url: str) -> None:
    vera = as_user(app, "vera", VIEWER_PW)
    resp = vera.get(url)
    assert resp.status_code == 403, url
    assert "needs agent" in resp.get_data(as_text=True)
    assert vera.post("/ops/callers", data={"number": CALLER}).status_code == 403
    assert "/ops/agent" not in vera.get("/ops/calls").get_data(as_text=True)  # no links


def test_an_agent_reads_stories_and_pages_but_changes_nothing(app: Flask,
                                                              ann: FlaskClient) -> None:
    for url in ("/ops/agent", "/ops/callers", "/ops/flows", "/ops/calls",
                "/ops/calls/queues", "/ops/inbox", "/ops/metrics"):
        assert ann.get(url).status_code == 200, url
    tok = login(ann, "ann", AGENT_PW)
    resp = ann.post(f"/ops/flows/{FLOW}/publish", data={"yaml": "x", "csrf_token": tok})
    assert resp.status_code == 403
    alice = as_user(app, "alice", "alice-pw")
    assert alice.get("/ops/agent").status_code == 200  # ops sees everything


# --- the list and the story ----------------------------------------------------------------

def story(client: FlaskClient, ref: str) -> dict[str, Any]:
    resp = client.get(f"/ops/agent/call/{ref}/story.json")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    data: dict[str, Any] = resp.get_json()
    return data


def test_a_call_that_presses_zero_is_listed_with_its_code(app: Flask, ann: FlaskClient) -> None:
    c = pin_then_zero(app)
    page = ann.get("/ops/agent").get_data(as_text=True)
    assert short_code(c.sid) in page and "waiting" in page and "+1******1234" in page
    assert CALLER not in page and "5551234" not in page
    other = caller(app, "+12125550000")
    other.dial(FLOW)  # still in the menu: not with a person
    assert short_code(other.sid) not in ann.get("/ops/agent").get_data(as_text=True)


def test_the_story_has_each_step_in_words_and_masks_the_pin(app: Flask,
                                                            ann: FlaskClient) -> None:
    c = pin_then_zero(app)
    data = story(ann, short_code(c.sid))
    assert data["sid"] == c.sid and data["status"] == "waiting"
    assert data["caller"] == "+1******1234" and data["language"] == "en-US"
    titles = [s["title"] for s in data["steps"]]
    assert titles[:4] == ["Call started", "Main menu", "Balance", "Balance result"], titles
    menu = data["steps"][1]
    assert menu["pressed"] == "2" and menu["prompt"].startswith("For a lost or stolen card")
    assert data["steps"][2]["pressed"] == "*****"
    assert data["steps"][-1]["to_title"] == "Connecting to a person"
    assert data["slots"] == [{"name": "Pin", "value": "*****"}]
    assert data["zone"] == "America/New_York" and data["steps"][1]["time"].endswith("EST")
    page = ann.get(f"/ops/agent/call/{c.sid}").get_data(as_text=True)
    for text in (page, json.dumps(data)):
        assert PIN not in text and CALLER not in text and "2125551234" not in text
    assert "Balance result" in page and 'data-poll="/ops/agent/call/' in page
    assert "<script>" not in page  # CSP: no inline script


def test_the_other_capture_is_in_their_own_words(app: Flask, ann: FlaskClient) -> None:
    c = found_card(app)
    data = story(ann, c.sid)
    assert FOUND in data["own_words"] and RETURN in data["own_words"]
    said = [s["said"] for s in data["steps"]]
    assert FOUND in said and RETURN in said
    assert FOUND in html.unescape(ann.get("/ops/agent").get_data(as_text=True))  # reason


def test_the_whisper_says_the_call_code(app: Flask) -> None:
    c = pin_then_zero(app)
    url = c.last.xml.find("Dial/Number").get("url")  # type: ignore[union-attr]
    reply = c.post(url, c.params(), keep=False)
    assert f"Call code {spoken(short_code(c.sid))}." in reply.text


def test_connected_once_the_person_hears_the_whisper(app: Flask, ann: FlaskClient) -> None:
    c = pin_then_zero(app)
    c.post(c.last.xml.find("Dial/Number").get("url"),  # type: ignore[union-attr]
           c.params(), keep=False)
    assert story(ann, c.sid)["status"] == "connected"
    c.answered("completed")  # the conversation is over: the call ends
    assert short_code(c.sid) not in ann.get("/ops/agent").get_data(as_text=True)
    assert story(ann, c.sid)["status"] == "ended"


def test_connected_when_the_persons_leg_reports_answered(app: Flask, ann: FlaskClient) -> None:
    c = pin_then_zero(app)
    leg = c.last.xml.find("Dial/Number").get("statusCallback")  # type: ignore[union-attr]
    c.post(leg, c.params(CallSid="CAleg", ParentCallSid=c.sid, CallStatus="ringing"),
           keep=False)
    assert story(ann, c.sid)["status"] == "waiting"          # ringing is not answered
    c.post(leg, c.params(CallSid="CAleg", ParentCallSid=c.sid, CallStatus="in-progress"),
           keep=False)
    assert story(ann, c.sid)["status"] == "connected"        # no whisper needed
    page = ann.get("/ops/agent").get_data(as_text=True)
    row = page[page.index(short_code(c.sid)):]
    assert "connected" in row[:row.index("</tr>")]


def test_unknown_calls_are_a_clear_404(ann: FlaskClient) -> None:
    for ref in ("CAnosuchcall", "0000", "not a call!"):
        resp = ann.get(f"/ops/agent/call/{ref}")
        assert resp.status_code == 404 and "No such call" in resp.get_data(as_text=True)
    resp = ann.get("/ops/agent/call/CAnosuchcall/story.json")
    assert resp.status_code == 404 and resp.get_json() == {"error": "no such call"}
    assert ann.get("/ops/agent/find?code=").status_code == 302


def test_a_code_two_calls_share_lists_both(app: Flask, ann: FlaskClient) -> None:
    seen: dict[str, str] = {}
    n = 0
    while True:  # two CallSids with one code (birthday: about a hundred tries)
        sid = f"CA{n:032x}"
        if short_code(sid) in seen:
            break
        seen[short_code(sid)] = sid
        n += 1
    pair = [seen[short_code(sid)], sid]
    for s in pair:
        c = caller(app)
        c.sid = s
        c.dial(FLOW)
        c.press("0")
    with app.app_context():
        assert sorted(resolve(short_code(sid))) == sorted(pair)
    page = ann.get(f"/ops/agent/call/{short_code(sid)}").get_data(as_text=True)
    assert "2 calls share this code" in page and all(s in page for s in pair)


def test_an_ended_call_reads_the_archive(app: Flask, ann: FlaskClient) -> None:
    with app.app_context():
        Archive.from_settings(settings()).record_call(
            {"sid": "CAold1", "flow": FLOW, "caller": CALLER, "outcome": "human",
             "reason": "lost my card", "path": ["welcome", "main_menu", "human"],
             "started": "2026-11-18T15:00:00+00:00", "ended": "2026-11-18T15:03:00+00:00"},
            [{"turn": 1, "from": "", "to": "main_menu", "heard": {"kind": "start"},
              "at": "2026-11-18T15:00:00+00:00"},
             {"turn": 2, "from": "main_menu", "to": "human",
              "heard": {"kind": "speech", "text": "lost my card"},
              "at": "2026-11-18T15:00:20+00:00"}])
    page = ann.get("/ops/agent/call/CAold1").get_data(as_text=True)
    assert "This call has ended" in page and "Read from the archive" in page
    assert "lost my card" in page and "10:00:20 EST" in page
    c = pin_then_zero(app)  # the same caller: the old call is an earlier call
    earlier = story(ann, c.sid)["earlier"]
    assert [e["sid"] for e in earlier] == ["CAold1"] and earlier[0]["outcome"] == "human"


# --- the caller timeline -------------------------------------------------------------------

def seed_timeline(app: Flask) -> None:
    with app.app_context():
        a = Archive.from_settings(settings())
        for i, (outcome, at) in enumerate([("completed", "2026-11-10T14:00:00+00:00"),
                                           ("callback", "2026-11-12T14:00:00+00:00"),
                                           ("other", "2026-11-14T14:00:00+00:00")]):
            a.record_call({"sid": f"CAt{i}", "flow": FLOW, "caller": CALLER,
                           "outcome": outcome, "path": ["welcome", "main_menu"],
                           "started": at, "ended": at}, [])
        a.add_callback({"sid": "CAt1", "flow": FLOW, "caller": CALLER, "at": at})
        a.add_inbox({"sid": "CAt2", "flow": FLOW, "state": "other", "caller": CALLER,
                     "said": "my card was swallowed by the ATM", "at": at})
        a.record_call({"sid": "CAelse", "flow": FLOW, "caller": "+13125550000",
                       "outcome": "completed", "started": at, "ended": at}, [])


def search(client: FlaskClient, number: str) -> tuple[str, str]:
    tok = login(client, "ann", AGENT_PW)
    resp = client.post("/ops/callers", data={"number": number, "csrf_token": tok})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return resp.location, client.get(resp.location).get_data(as_text=True)


def test_the_timeline_by_number_in_two_formats(app: Flask, ann: FlaskClient) -> None:
    seed_timeline(app)
    url1, page = search(ann, "(212) 555-1234")
    url2, _ = search(ann, "+1 212.555.1234")
    assert url1 == url2 and re.fullmatch(r"/ops/callers\?key=[0-9a-f]{32}", url1)
    assert "555" not in url1 and "1234" not in url1
    assert "3 calls" in page and "CAelse" not in page
    assert page.index("CAt2") < page.index("CAt1") < page.index("CAt0")  # newest first
    assert "my card was swallowed by the ATM" in page
    assert "+1******1234" in page and "not done" in page  # the callback, number masked
    assert "Fri 14 Nov 2026 09:00 EST" not in page  # 14 Nov is a Saturday
    assert "Sat 14 Nov 2026 09:00 EST" in page and "/ops/agent/call/CAt2" in page
    assert CALLER not in page


def test_the_timeline_shows_the_callers_call_in_progress(app: Flask, ann: FlaskClient) -> None:
    c = pin_then_zero(app)                       # from CALLER, with a person now
    other = caller(app, "+13125550000")
    other.dial()
    _, page = search(ann, "(212) 555-1234")
    assert 'id="in-progress"' in page and short_code(c.sid) in page
    assert short_code(other.sid) not in page.split('id="in-progress"')[1].split("</ul>")[0]
    assert "No calls from this number in the archive yet." in page


def test_a_number_with_no_calls_says_so(app: Flask, ann: FlaskClient) -> None:
    _, page = search(ann, "+44 20 7946 0000")
    assert "No calls from this number" in page
    tok = login(ann, "ann", AGENT_PW)
    resp = ann.post("/ops/callers", data={"number": "banana", "csrf_token": tok})
    assert resp.status_code == 302
    assert "not a phone number" in ann.get(resp.location).get_data(as_text=True)
    assert "not valid" in ann.get("/ops/callers?key=xyz").get_data(as_text=True)


# --- live calls and queues -----------------------------------------------------------------

def test_live_calls_filter_sort_and_drill_down(app: Flask, ann: FlaskClient) -> None:
    c = pin_then_zero(app)
    menu = caller(app, "+12125550000")
    menu.dial(FLOW)
    page = ann.get("/ops/calls?q=person").get_data(as_text=True)
    assert short_code(c.sid) in page and short_code(menu.sid) not in page
    assert f"/ops/agent/call/{c.sid}" in page
    page = ann.get("/ops/calls?flow=clinic-appointments").get_data(as_text=True)
    assert "match this filter" in page
    page = ann.get("/ops/calls?sort=newest").get_data(as_text=True)
    assert short_code(c.sid) in page and short_code(menu.sid) in page
    queues = ann.get("/ops/calls/queues").get_data(as_text=True)
    assert "queue front_desk" in queues and "dial (no queue)" in queues
    assert re.search(r'data-label="Waiting" class="num">1<', queues)


def test_a_queued_caller_waits_by_twilios_queue_time(app: Flask, ann: FlaskClient) -> None:
    c = caller(app)
    c.dial("clinic-appointments")
    c.press("0")
    wait = c.last.xml.find("Enqueue").get("waitUrl")  # type: ignore[union-attr]
    c.post(wait, c.params(QueuePosition="3", QueueTime="95", AvgQueueTime="60",
                          CurrentQueueSize="3"))
    data = story(ann, short_code(c.sid))
    assert data["status"] == "waiting" and data["where"] == "Waiting in line for a person"
    assert data["waited"] == 95 and data["waited_text"] == "1:35"
    assert data["zone"] == "America/Chicago" and data["steps"][-1]["time"].endswith("CST")
    last = data["steps"][-1]  # the queue's ticks are folded into the time waited
    assert (last["title"], last["pressed"], last["to_title"]) == (
        "Triage", "0", "Connecting to a person")
    queues = ann.get("/ops/calls/queues").get_data(as_text=True)
    row = queues[queues.index("queue front_desk"):]
    assert re.search(r'data-label="Waiting" class="num">1<', row) and "1:35" in row


def test_callers_words_are_text_not_markup(app: Flask, ann: FlaskClient) -> None:
    payload = '<img src=x onerror="alert(1)"> 4111 1111 1111 1111'
    c = caller(app)
    c.dial(FLOW)
    c.say(payload)
    c.press("0")
    page = ann.get(f"/ops/agent/call/{c.sid}").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x" in page
    text = json.dumps(story(ann, c.sid))
    assert "4111 1111 1111 1111" not in page + text and "[card number]" in text
