"""The ops console through the Flask test client: auth, CSRF, throttling, every page,
publish / rollback / audit, optimistic locking, the simulator, the inbox and metrics."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.app import create_app
from ivr.cli import main
from ivr.jobs.archive import Archive
from ivr.ops import auth as ops_auth
from ivr.qa.transcript import parse_transcript
from ivr.server.context import store_of
from ivr.store.calls import Store
from tests.conftest import ROOT, empty_archive

pytestmark = pytest.mark.redis
FLOW = "card-services"
OPEN_CLOCK = "2026-11-20T14:05:00-05:00"
USERS = {"alice": generate_password_hash("alice-pw"), "bob": generate_password_hash("bob-pw")}
TEXT = (ROOT / "flows" / f"{FLOW}.yaml").read_text()


def make_app(redis_url: str, archive: str, **extra: Any) -> Flask:
    conf: dict[str, Any] = {
        "redis_url": redis_url, "flows_dir": str(ROOT / "flows"), "clock": OPEN_CLOCK,
        "emergency_number": "+15559990000", "validate_signatures": False,
        "spool_dir": tempfile.mkdtemp(prefix="ivr-spool-"),
        "archive_url" if "://" in archive else "archive_path": archive,
        "TESTING": True, "OPS_USERS": USERS, "SECRET_KEY": "test-secret"}
    conf.update(extra)
    return create_app(conf)


@pytest.fixture
def archive_path(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The app's archive: a SQLite file, or the database ``ON_BOTH`` asks for."""
    return empty_archive(getattr(request, "param", "sqlite"), request, tmp_path)


ON_BOTH = pytest.mark.parametrize("archive_path", ["sqlite", "postgresql"], indirect=True)
"""Run an archive test on SQLite and on PostgreSQL."""


@pytest.fixture
def app(redis_url: str, archive_path: str) -> Flask:
    return make_app(redis_url, archive_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def token(client: FlaskClient, url: str = "/ops/login") -> str:
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def login(client: FlaskClient, name: str = "alice", password: str = "alice-pw") -> str:
    """Log in; return the session's CSRF token."""
    resp = client.post("/ops/login", data={"username": name, "password": password,
                                           "csrf_token": token(client)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return token(client, "/ops/flows")


@pytest.fixture
def alice(client: FlaskClient) -> Iterator[tuple[FlaskClient, str]]:
    yield client, login(client)


def current(app: Flask) -> str:
    store: Store = store_of(app)
    return store.current(FLOW) or ""


# --- auth ---------------------------------------------------------------------------------

GETS = ["/ops/", "/ops/flows", f"/ops/flows/{FLOW}", f"/ops/flows/{FLOW}/graph.svg",
        "/ops/sim", "/ops/calls", "/ops/inbox", "/ops/metrics", "/ops/sim/abc123",
        f"/ops/flows/{FLOW}/versions/abc.yaml", "/ops/sim/abc123/transcript.yaml"]
POSTS = [f"/ops/flows/{FLOW}/check", f"/ops/flows/{FLOW}/publish",
         f"/ops/flows/{FLOW}/rollback", "/ops/sim/start", "/ops/sim/abc/send",
         "/ops/sim/abc/restart", "/ops/inbox/CA1/handled", "/ops/logout"]


@pytest.mark.parametrize("url", GETS)
def test_every_page_needs_login(client: FlaskClient, url: str) -> None:
    resp = client.get(url)
    assert resp.status_code == 302
    assert resp.location.startswith("/ops/login?next=")


@pytest.mark.parametrize("url", POSTS)
def test_every_post_needs_login(client: FlaskClient, url: str) -> None:
    resp = client.post(url, data={"yaml": TEXT})
    assert resp.status_code == 302 and "/ops/login" in resp.location
    assert client.post(url, json={}).status_code == 401


def test_login_logout_and_next(client: FlaskClient) -> None:
    resp = client.post("/ops/login", data={"username": "alice", "password": "alice-pw",
                                           "csrf_token": token(client),
                                           "next": "/ops/calls"})
    assert resp.location == "/ops/calls"
    assert client.get("/ops/flows").status_code == 200
    resp = client.post("/ops/logout", data={"csrf_token": token(client, "/ops/flows")})
    assert resp.status_code == 302
    assert client.get("/ops/flows").status_code == 302


def test_next_never_leaves_the_console(client: FlaskClient) -> None:
    for evil in ("https://evil.example/ops", "//evil.example/ops", "/voice/x"):
        resp = client.post("/ops/login", data={"username": "alice", "password": "alice-pw",
                                               "csrf_token": token(client), "next": evil})
        assert resp.location == "/ops/flows"


def test_wrong_password_is_refused_then_rate_limited(client: FlaskClient) -> None:
    for _ in range(ops_auth.MAX_FAILS):
        resp = client.post("/ops/login", data={"username": "alice", "password": "nope",
                                               "csrf_token": token(client)})
        assert resp.status_code == 401
        assert "Wrong user name or password" in resp.get_data(as_text=True)
    resp = client.post("/ops/login", data={"username": "alice", "password": "alice-pw",
                                           "csrf_token": token(client)})
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)
    # another user from the same address is not locked out by alice's failures
    assert client.post("/ops/login", data={"username": "bob", "password": "bob-pw",
                                           "csrf_token": token(client)}).status_code == 302


def test_unknown_user_is_refused_like_a_wrong_password(client: FlaskClient) -> None:
    resp = client.post("/ops/login", data={"username": "mallory", "password": "x",
                                           "csrf_token": token(client)})
    assert resp.status_code == 401


def test_users_in_redis(client: FlaskClient, redis_conn: redis.Redis) -> None:
    ops_auth.store_user(redis_conn, "carol", generate_password_hash("carol-pw"))
    login(client, "carol", "carol-pw")
    redis_conn.hdel(ops_auth.USERS_KEY, "carol")   # a removed user is logged out at once
    assert client.get("/ops/flows").status_code == 302


def test_expired_session_asks_to_log_in_again(app: Flask, client: FlaskClient) -> None:
    login(client)
    other = make_app(app.extensions["ivr.settings"].redis_url,
                     app.extensions["ivr.settings"].archive_path, SECRET_KEY="rotated")
    c2 = other.test_client()
    header = client.get("/ops/flows").headers.get("Set-Cookie", "")
    value = re.search(r"ivr_ops=([^;]+)", header)
    assert value, header
    c2.set_cookie("ivr_ops", value.group(1))   # signed with the old key: not a session
    resp = c2.get("/ops/flows", follow_redirects=True)
    assert "Your session has ended" in resp.get_data(as_text=True)


# --- CSRF and cookies ------------------------------------------------------------------------

def test_csrf_is_required_on_every_post(alice: tuple[FlaskClient, str]) -> None:
    client, _tok = alice
    for url in POSTS:
        assert client.post(url, data={"yaml": TEXT}).status_code == 403, url
        assert client.post(url, data={"yaml": TEXT, "csrf_token": "wrong"}).status_code == 403


def test_login_form_needs_csrf(client: FlaskClient) -> None:
    client.get("/ops/login")
    resp = client.post("/ops/login", data={"username": "alice", "password": "alice-pw"})
    assert resp.status_code == 403


def test_session_cookie_flags(redis_url: str, archive_path: str) -> None:
    app = make_app(redis_url, archive_path, TESTING=False)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = app.test_client()
    header = client.get("/ops/login").headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header
    headers = client.get("/ops/login").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_voice_endpoints_are_not_behind_the_login(client: FlaskClient) -> None:
    resp = client.post(f"/voice/{FLOW}", data={"CallSid": "CAopsvoice", "From": "+15550001111"})
    assert resp.status_code == 200 and b"<Response>" in resp.data


def test_generated_secret_key_is_shared_through_redis(redis_url: str, archive_path: str) -> None:
    a = make_app(redis_url, archive_path, SECRET_KEY=None)
    b = make_app(redis_url, archive_path, SECRET_KEY=None)
    assert a.secret_key and a.secret_key == b.secret_key


# --- flows: list, page, check ---------------------------------------------------------------

def test_flows_list(alice: tuple[FlaskClient, str], app: Flask) -> None:
    client, _ = alice
    page = client.get("/ops/flows").get_data(as_text=True)
    assert FLOW in page and "clinic-appointments" in page and current(app) in page


def test_flow_page_shows_editor_graph_and_history(alice: tuple[FlaskClient, str]) -> None:
    client, _ = alice
    page = client.get(f"/ops/flows/{FLOW}").get_data(as_text=True)
    assert "<textarea" in page and "main_menu:" in page
    assert "flowchart TD" in page   # the Mermaid source is always there
    assert "Audit log" in page


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz (dot) is not installed")
def test_graph_svg_has_red_human_edges(alice: tuple[FlaskClient, str]) -> None:
    client, _ = alice
    resp = client.get(f"/ops/flows/{FLOW}/graph.svg")
    assert resp.mimetype == "image/svg+xml"
    assert b"#cc0000" in resp.data and b"<svg" in resp.data


def test_check_reports_a_typo_at_its_line(alice: tuple[FlaskClient, str]) -> None:
    client, tok = alice
    bad = TEXT.replace("next: check_hours", "next: check_hour", 1)
    line = bad.splitlines().index("    next: check_hour") + 1
    resp = client.post(f"/ops/flows/{FLOW}/check", data=bad.encode(),
                       headers={"X-CSRF-Token": tok, "Content-Type": "text/plain"})
    data = resp.get_json()
    assert data["ok"] is False and data["errors"] >= 1
    p = data["problems"][0]
    assert (p["code"], p["line"]) == ("IVR201", line)
    assert "did you mean 'check_hours'" in p["text"]
    good = client.post(f"/ops/flows/{FLOW}/check", data=TEXT.encode(),
                       headers={"X-CSRF-Token": tok}).get_json()
    assert good["ok"] is True


def test_check_of_text_that_is_not_a_flow(alice: tuple[FlaskClient, str]) -> None:
    client, tok = alice
    for text in ("just words", "- a\n- list\n", "flow: [unclosed\n", ""):
        data = client.post(f"/ops/flows/{FLOW}/check", data=text.encode(),
                           headers={"X-CSRF-Token": tok}).get_json()
        assert data["ok"] is False and data["problems"], text


# --- publish, rollback, audit --------------------------------------------------------------

def publish(client: FlaskClient, tok: str, text: str, based_on: str, note: str = "") -> Any:
    return client.post(f"/ops/flows/{FLOW}/publish", data={
        "yaml": text, "based_on": based_on, "csrf_token": tok, "note": note})


def edited(text: str = TEXT, n: int = 1) -> str:
    return text.replace("You can press 0 at any time", f"Press 0 at any time (edit {n})", 1)


def test_bad_yaml_is_refused_with_problems(alice: tuple[FlaskClient, str], app: Flask) -> None:
    client, tok = alice
    before = current(app)
    resp = publish(client, tok, TEXT.replace("next: check_hours", "next: check_hour"), before)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Not published" in page and "IVR201" in page and "check_hour" in page
    assert current(app) == before


def test_publish_refused_when_the_proof_of_the_human_escape_fails(
        alice: tuple[FlaskClient, str], app: Flask) -> None:
    client, tok = alice
    loop = ('states:\n  loop_a:\n    say: "a"\n    next: loop_b\n'
            '  loop_b:\n    say: "b"\n    next: loop_a\n')
    resp = publish(client, tok, TEXT.replace("\nstates:\n", "\n" + loop, 1), current(app))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "IVR301" in page and "state &#39;loop_a&#39; can never reach a human" in page


def test_publish_another_flow_id_is_refused(alice: tuple[FlaskClient, str], app: Flask) -> None:
    client, tok = alice
    resp = publish(client, tok, TEXT.replace("flow: card-services", "flow: other-id"),
                   current(app))
    assert resp.status_code == 422 and "IVR210" in resp.get_data(as_text=True)


def test_publish_then_rollback_with_audit(alice: tuple[FlaskClient, str], app: Flask) -> None:
    client, tok = alice
    v1 = current(app)
    resp = publish(client, tok, edited(), v1, "shorter welcome")
    assert resp.status_code == 302
    v2 = current(app)
    assert v2 != v1
    store: Store = store_of(app)
    assert store.flow_text(FLOW, v2) == edited()
    page = client.get(f"/ops/flows/{FLOW}").get_data(as_text=True)
    assert "Published version" in page and "shorter welcome" in page
    assert "+    say: &#34;Thanks for calling Acme card services. Press 0" in page
    resp = client.post(f"/ops/flows/{FLOW}/rollback",
                       data={"to": v1, "based_on": v2, "csrf_token": tok})
    assert resp.status_code == 302 and current(app) == v1
    from ivr.ops.versions import audit

    entries = audit(store.conn, FLOW)
    assert [(e["action"], e["from"], e["to"], e["who"]) for e in entries] == [
        ("rollback", v2, v1, "alice"), ("publish", v1, v2, "alice")]
    assert entries[0]["diff"].startswith("--- version")
    listing = client.get("/ops/flows").get_data(as_text=True)
    assert "rollback by alice" in listing


def test_publishing_the_current_text_changes_nothing(alice: tuple[FlaskClient, str],
                                                     app: Flask) -> None:
    client, tok = alice
    v1 = current(app)
    resp = publish(client, tok, TEXT, v1)
    assert resp.status_code == 302
    assert "already current" in client.get(resp.location).get_data(as_text=True)


def test_two_people_publishing_at_once(app: Flask, client: FlaskClient) -> None:
    tok_a = login(client)
    bob = app.test_client()
    tok_b = login(bob, "bob", "bob-pw")
    v1 = current(app)
    assert publish(client, tok_a, edited(n=1), v1).status_code == 302
    v2 = current(app)
    resp = publish(bob, tok_b, edited(n=2), v1)     # bob started from v1 too
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert f"alice published version {v2}" in page and f"started from version {v1}" in page
    assert "(edit 2)" in page                         # bob's text is kept in the editor
    assert current(app) == v2                         # nothing overwritten
    # a stale rollback is refused the same way
    resp = bob.post(f"/ops/flows/{FLOW}/rollback",
                    data={"to": v1, "based_on": v1, "csrf_token": tok_b})
    assert current(app) == v2


def test_rollback_to_unknown_version(alice: tuple[FlaskClient, str], app: Flask) -> None:
    client, tok = alice
    resp = client.post(f"/ops/flows/{FLOW}/rollback", data={
        "to": "nope", "based_on": current(app), "csrf_token": tok}, follow_redirects=True)
    assert "no stored version nope" in resp.get_data(as_text=True)


def test_download_version(alice: tuple[FlaskClient, str], app: Flask) -> None:
    client, _ = alice
    resp = client.get(f"/ops/flows/{FLOW}/versions/{current(app)}.yaml")
    assert resp.get_data(as_text=True) == TEXT
    assert client.get(f"/ops/flows/{FLOW}/versions/nope.yaml").status_code == 404


# --- simulator ------------------------------------------------------------------------------

def start_sim(client: FlaskClient, tok: str, **form: str) -> str:
    resp = client.post("/ops/sim/start", data={"flow": FLOW, "csrf_token": tok,
                                               "clock": "2026-11-20T14:05", **form})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return str(resp.location)


def test_simulator_zero_out_reaches_a_human(alice: tuple[FlaskClient, str]) -> None:
    client, tok = alice
    url = start_sim(client, tok)
    page = client.get(url).get_data(as_text=True)
    assert "main_menu" in page and "lost or stolen" in page
    client.post(url + "/send", data={"line": "0", "csrf_token": tok})
    page = client.get(url).get_data(as_text=True)
    assert "ringing a person" in page and "They answer" in page
    client.post(url + "/send", data={"line": "answer", "csrf_token": tok})
    page = client.get(url).get_data(as_text=True)
    assert "Call ended: the caller reached a person (human)" in page
    text = client.get(url + "/transcript.yaml?name=zero+out").get_data(as_text=True)
    data = yaml.safe_load(text)
    assert data["outcome"] == "human" and data["name"] == "zero out"
    assert {"press": "0"} in data["steps"]
    assert not parse_transcript(text).problems


def test_simulator_speech_and_bad_input(alice: tuple[FlaskClient, str]) -> None:
    client, tok = alice
    url = start_sim(client, tok)
    client.post(url + "/send", data={"say": "I found somebody's credit card",
                                     "csrf_token": tok})
    page = client.get(url).get_data(as_text=True)
    assert "I found somebody" in page
    resp = client.post(url + "/send", data={"line": "answer", "csrf_token": tok},
                       follow_redirects=True)
    assert "only works while a person is being rung" in resp.get_data(as_text=True)


def test_simulator_runs_a_draft(alice: tuple[FlaskClient, str]) -> None:
    client, tok = alice
    url = start_sim(client, tok, yaml=edited(n=7))
    assert "(edit 7)" in client.get(url).get_data(as_text=True)
    resp = client.post("/ops/sim/start", data={
        "flow": FLOW, "csrf_token": tok, "yaml": TEXT.replace("next: check_hours", "next: x")})
    assert resp.status_code == 302 and f"/ops/flows/{FLOW}" in resp.location


def test_simulations_are_private(app: Flask, client: FlaskClient) -> None:
    url = start_sim(client, login(client))
    bob = app.test_client()
    login(bob, "bob", "bob-pw")
    assert bob.get(url).status_code == 404
    assert client.get("/ops/sim/doesnotexist").status_code == 404


# --- live calls, inbox, metrics --------------------------------------------------------------

def test_live_calls(alice: tuple[FlaskClient, str], redis_conn: redis.Redis) -> None:
    client, _ = alice
    # the index is written once the response is sent (closed), as under gunicorn
    client.post(f"/voice/{FLOW}", data={"CallSid": "CAlive000001",
                                        "From": "+15550001111"}).close()
    page = client.get("/ops/calls").get_data(as_text=True)
    assert "CAlive000001"[-10:] in page and "main_menu" in page and "1 active" in page
    client.post("/voice/status", data={"CallSid": "CAlive000001",
                                       "CallStatus": "completed"}).close()
    page = client.get("/ops/calls").get_data(as_text=True)
    assert "live000001" not in page and "0 active" in page
    assert "live000001" in client.get("/ops/calls?ended=1").get_data(as_text=True)


def test_live_calls_drops_expired_entries(alice: tuple[FlaskClient, str],
                                          redis_conn: redis.Redis) -> None:
    from ivr.store import live
    from ivr.store.keys import LIVE

    client, _ = alice
    live.started(redis_conn, "CAexpired0001")  # its call key is gone (expired)
    assert "expired0001" not in client.get("/ops/calls").get_data(as_text=True)
    assert redis_conn.zscore(LIVE.format(live.bucket("CAexpired0001")),
                             "CAexpired0001") is None


def fill_archive(path: str) -> Archive:
    a = Archive(path)
    at = "2026-11-20T19:05:00+00:00"
    turns = [{"turn": 1, "from": "", "to": "main_menu", "heard": {"kind": "start"}},
             {"turn": 2, "from": "main_menu", "to": "human",
              "heard": {"kind": "digits", "digits": "0"}}]
    for i in range(3):
        a.record_call({"sid": f"CAz{i}", "flow": FLOW, "outcome": "human", "started": at,
                       "ended": at}, turns)
    a.record_call({"sid": "CAok", "flow": FLOW, "outcome": "completed", "started": at,
                   "ended": at}, turns[:1])
    a.add_inbox({"sid": "CAother1", "flow": FLOW, "state": "main_menu",
                 "said": "I found somebody's card", "caller": "***1111", "at": at})
    a.add_inbox({"sid": "CAother2", "flow": FLOW, "state": "main_menu",
                 "said": "found a card on the street", "caller": "***2222", "at": at})
    return a


@ON_BOTH
def test_inbox_list_top_and_mark_handled(alice: tuple[FlaskClient, str],
                                         archive_path: str) -> None:
    client, tok = alice
    a = fill_archive(archive_path)
    page = client.get("/ops/inbox?since=all").get_data(as_text=True)
    assert "I found somebody&#39;s card" in page and "2 open" in page
    resp = client.post("/ops/inbox/CAother1/handled", data={
        "csrf_token": tok, "handled": "1", "back": "/ops/inbox?since=all"})
    assert resp.status_code == 302 and resp.location == "/ops/inbox?since=all"
    assert [i["handled"] for i in a.inbox() if i["sid"] == "CAother1"] == [True]
    assert "1 open" in client.get("/ops/inbox?since=all").get_data(as_text=True)
    assert client.post("/ops/inbox/CAnope/handled", data={"csrf_token": tok}).status_code == 404


@ON_BOTH
def test_metrics_zero_outs_per_state(alice: tuple[FlaskClient, str], archive_path: str) -> None:
    client, _ = alice
    fill_archive(archive_path)
    page = client.get("/ops/metrics?since=all").get_data(as_text=True)
    assert re.search(r"<th>main_menu</th>.*?<td class=\"num\">3</td>", page, re.S)
    assert "25%" in page    # containment: 1 completed of 4 calls

    from ivr.ops.trends import trend

    m = trend(Archive(archive_path), FLOW, None, "all").totals
    assert (m.calls, m.zero_outs["main_menu"], m.containment) == (4, 3, 25.0)


def test_metrics_of_an_empty_archive(alice: tuple[FlaskClient, str], tmp_path: Path) -> None:
    from ivr.ops.trends import trend

    assert trend(Archive(tmp_path / "new.db"), FLOW, None, "all").totals.calls == 0
    client, _ = alice
    assert client.get("/ops/metrics").status_code == 200


# --- the CLI --------------------------------------------------------------------------------

def test_ops_user_prints_a_hash() -> None:
    pw = "plum-kettle-orbit-9"
    result = CliRunner().invoke(main, ["ops-user", "dana"], input=f"{pw}\n{pw}\n")
    assert result.exit_code == 0, result.output
    hashed = re.search(r'"dana": "ops ([^"]+)"', result.output)
    assert hashed and check_password_hash(hashed.group(1), pw)


def test_ops_user_store(redis_conn: redis.Redis, redis_url: str) -> None:
    result = CliRunner().invoke(main, ["ops-user", "erin", "--store", "--redis-url", redis_url,
                                       "--password", "plum-kettle-orbit-9", "--role", "viewer"],
                                env={"IVR_EMERGENCY_NUMBER": "+15559990000"})
    assert result.exit_code == 0, result.output
    stored = redis_conn.hget(ops_auth.USERS_KEY, "erin")
    assert stored and stored.startswith(b"viewer ")
    assert check_password_hash(stored.decode().split(" ", 1)[1], "plum-kettle-orbit-9")


@pytest.mark.redis
def test_logout_ends_the_session_even_for_a_saved_cookie(app: Flask) -> None:
    client = app.test_client()
    csrf = login(client)
    saved = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert saved is not None and client.get("/ops/flows").status_code == 200
    assert client.post("/ops/logout", data={"csrf_token": csrf}).status_code == 302
    thief = app.test_client()                 # someone who kept a copy of the cookie
    thief.set_cookie(saved.key, saved.value)
    resp = thief.get("/ops/flows")
    assert resp.status_code == 302 and "/ops/login" in resp.headers["Location"]


@pytest.mark.redis
@pytest.mark.parametrize("target", ["/ops/flows\r\nSet-Cookie: x=1", "//evil.example/ops",
                                    "/ops\\..\\x", "https://evil.example/ops"])
def test_login_next_is_a_console_path_or_nothing(app: Flask, target: str) -> None:
    client = app.test_client()
    resp = client.post("/ops/login", data={"username": "alice", "password": "alice-pw",
                                           "csrf_token": token(client), "next": target})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/ops/flows")
    assert client.get(f"/ops/login?next={target}").status_code == 200


@pytest.mark.redis
def test_the_console_simulator_waits_in_the_queue_and_takes_a_call_back(
        alice: tuple[FlaskClient, str]) -> None:
    client, tok = alice
    resp = client.post("/ops/sim/start", data={"flow": "clinic-appointments",
                                               "csrf_token": tok, "clock": "2026-11-18T10:00"})
    sim = resp.headers["Location"].split("/ops/sim/", 1)[1].split("#")[0]
    pages = []
    for line in ["0", "wait 40 0", "1", "2", "2125550123#"]:
        client.post(f"/ops/sim/{sim}/send", data={"csrf_token": tok, "line": line})
        pages.append(client.get(f"/ops/sim/{sim}").get_data(as_text=True))
    assert "Waiting in line for a person" in pages[0] and "Announce: 40th in line" in pages[0]
    assert "number 40 in line" in pages[1] and "keep your place in line" in pages[1]
    assert "enter the phone number" in pages[3]
    assert "We will call you back at 2 1 2, 5 5 5, 0 1 2 3" in pages[4]  # then: Leave
    assert "The call has ended" in pages[4]


@pytest.mark.redis
def test_the_console_simulator_offers_no_message_and_zero_at_voicemail(
        alice: tuple[FlaskClient, str]) -> None:
    client, tok = alice
    resp = client.post("/ops/sim/start", data={"flow": FLOW, "csrf_token": tok,
                                               "clock": "2026-11-22T14:05"})  # Sunday
    sim = resp.headers["Location"].split("/ops/sim/", 1)[1].split("#")[0]
    client.post(f"/ops/sim/{sim}/send", data={"csrf_token": tok, "line": "0"})
    page = client.get(f"/ops/sim/{sim}").get_data(as_text=True)
    assert "Say nothing (no message)" in page and "Press 0 during the prompt" in page
    client.post(f"/ops/sim/{sim}/send", data={"csrf_token": tok, "line": "record none"})
    page = client.get(f"/ops/sim/{sim}").get_data(as_text=True)
    assert "get a message" in page and "message is saved" not in page
