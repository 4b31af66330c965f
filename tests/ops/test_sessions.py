"""Console sessions end when they should: logout (done before), log out everywhere, the
idle timeout (the session key's TTL, renewed by use) and the absolute one (login time)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ivr.server.context import store_of
from ivr.store.keys import OPS_SESSION, OPS_USER_SESSIONS
from tests.ops.test_ops import login, make_app

pytestmark = pytest.mark.redis


@pytest.fixture
def app(redis_url: str, tmp_path: Path) -> Flask:
    return make_app(redis_url, str(tmp_path / "archive.db"))


def _sid(app: Flask, client: FlaskClient) -> str:
    with client.session_transaction() as s:
        return str(s["sid"])


def _out(client: FlaskClient) -> bool:
    resp = client.get("/ops/flows")
    return resp.status_code == 302 and "/ops/login" in resp.headers["Location"]


def test_log_out_everywhere_ends_every_browser_of_that_user(app: Flask) -> None:
    laptop, phone, bob = app.test_client(), app.test_client(), app.test_client()
    csrf = login(laptop)
    login(phone)
    login(bob, "bob", "bob-pw")
    resp = laptop.post("/ops/logout", data={"csrf_token": csrf, "everywhere": "1"},
                       follow_redirects=True)
    assert "Logged out on every browser (2 sessions)." in resp.get_data(as_text=True)
    assert _out(laptop) and _out(phone)
    assert not _out(bob)  # another user's session is theirs
    assert not store_of(app).conn.exists(OPS_USER_SESSIONS.format("alice"))


def test_an_idle_session_ends_and_use_renews_it(app: Flask) -> None:
    client = app.test_client()
    login(client)
    conn, key = store_of(app).conn, OPS_SESSION.format(_sid(app, client))
    conn.expire(key, 100)
    assert not _out(client)
    assert 100 < conn.ttl(key) <= 30 * 60  # a request starts the idle clock again
    conn.pexpire(key, 50)                  # idle: the key lapses
    time.sleep(0.2)
    assert _out(client)


def test_a_session_older_than_ops_session_hours_ends_however_used(app: Flask) -> None:
    client = app.test_client()
    login(client)
    conn, key = store_of(app).conn, OPS_SESSION.format(_sid(app, client))
    assert not _out(client)
    conn.set(key, f"alice {int(time.time()) - 8 * 3600 - 5}", ex=600)  # logged in 8 h ago
    assert _out(client) and not conn.exists(key)


def test_a_session_key_of_another_user_is_refused(app: Flask) -> None:
    client = app.test_client()
    login(client)
    conn, key = store_of(app).conn, OPS_SESSION.format(_sid(app, client))
    conn.set(key, f"bob {int(time.time())}", ex=600)
    assert _out(client)
