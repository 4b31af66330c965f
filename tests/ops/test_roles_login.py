"""Login throttling counted before the password is checked, per client address and user;
password rules of `ivr ops-user`; roles declared by every console route."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.cli import main
from ivr.ops import auth as ops_auth
from ivr.ops import roles
from tests.ops.test_ops import FLOW, TEXT, USERS, current, login, make_app, token
from tests.ops.test_ops import archive_path as archive_path  # noqa: F401 - the fixture

pytestmark = pytest.mark.redis
VIEWER_PW = "viewer-password-long"


@pytest.fixture
def app(redis_url: str, archive_path: str) -> Flask:
    users = {**USERS, "vera": roles.join("viewer", generate_password_hash(VIEWER_PW))}
    return make_app(redis_url, archive_path, OPS_USERS=users)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the password verifications the login makes (the real function runs)."""
    seen: list[str] = []
    lock = threading.Lock()

    def counted(stored: str, password: str) -> bool:
        with lock:
            seen.append(password)
        return check_password_hash(stored, password)

    monkeypatch.setattr(ops_auth, "check_password_hash", counted)
    return seen


def attempt(app: Flask, password: str, addr: str = "10.0.0.1",
            headers: dict[str, str] | None = None) -> int:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = addr
    r = c.post("/ops/login", data={"username": "alice", "password": password,
                                   "csrf_token": token(c)}, headers=headers or {})
    return r.status_code


def test_fifty_parallel_attempts_make_at_most_five_password_checks(
        app: Flask, checks: list[str]) -> None:
    codes: list[int] = []
    barrier = threading.Barrier(50)

    def one(i: int) -> None:
        c = app.test_client()
        c.environ_base["REMOTE_ADDR"] = "10.0.0.66"
        tok = token(c)
        barrier.wait()
        codes.append(c.post("/ops/login", data={"username": "alice", "password": f"guess{i}",
                                                "csrf_token": tok}).status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"\n50 parallel login attempts against one user: {len(checks)} password checks, "
          f"{codes.count(429)} refused before any check")
    assert len(codes) == 50 and len(checks) <= ops_auth.MAX_FAILS
    assert codes.count(429) == 50 - len(checks)


def test_a_locked_address_does_not_lock_the_user_out_elsewhere(
        app: Flask, checks: list[str]) -> None:
    for _ in range(ops_auth.MAX_FAILS + 3):
        attempt(app, "wrong", "203.0.113.9")
    assert attempt(app, "alice-pw", "203.0.113.9") == 429   # the attacker's address
    assert attempt(app, "alice-pw", "198.51.100.7") == 302  # alice, at the office


def test_behind_a_proxy_the_forwarded_address_counts(redis_url: str, archive_path: str,
                                                     checks: list[str]) -> None:
    app = make_app(redis_url, archive_path, behind_proxy=True)
    for _ in range(ops_auth.MAX_FAILS + 1):
        attempt(app, "wrong", "10.0.0.2", {"X-Forwarded-For": "203.0.113.9"})
    assert attempt(app, "alice-pw", "10.0.0.2", {"X-Forwarded-For": "203.0.113.9"}) == 429
    assert attempt(app, "alice-pw", "10.0.0.2", {"X-Forwarded-For": "198.51.100.7"}) == 302


def test_a_good_login_resets_only_its_own_counter(app: Flask, checks: list[str]) -> None:
    for _ in range(ops_auth.MAX_FAILS - 1):
        attempt(app, "wrong")
    assert attempt(app, "alice-pw") == 302
    for _ in range(ops_auth.MAX_FAILS - 1):
        assert attempt(app, "wrong") == 401


@pytest.mark.parametrize("password, why", [
    ("short-pw", "too short"), ("password1234", "most common"),
    ("qwertyuiop123", "most common"), ("iloveyou1234", "most common"),
    ("aaaaaaaaaaaaaaa", "too few"), ("dana-is-my-name", "user name")])
def test_ops_user_refuses_weak_passwords(password: str, why: str) -> None:
    result = CliRunner().invoke(main, ["ops-user", "dana", "--password", password])
    assert result.exit_code == 2 and why in result.output, result.output
    assert "ops_users" not in result.output


def test_the_bundled_list_is_a_few_hundred_common_passwords() -> None:
    common = ops_auth.common_passwords()
    assert len(common) >= 300 and {"123456", "password", "qwerty"} <= common


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        roles.join("admin", "h")
    result = CliRunner().invoke(main, ["ops-user", "x", "--password", "plum-kettle-orbit-9",
                                       "--role", "admin"])
    assert result.exit_code == 2


def test_every_console_route_declares_its_role(app: Flask) -> None:
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/ops")]
    undeclared = [r.rule for r in rules if r.endpoint not in ("ops.login", "ops.static")
                  and roles.required(app.view_functions[r.endpoint]) not in roles.ROLES]
    print(f"\n/ops routes: {len(rules)}, without a declared role: {len(undeclared)}")
    assert len(rules) >= 20 and undeclared == []


def viewer(app: Flask) -> tuple[FlaskClient, str]:
    c = app.test_client()
    return c, login(c, "vera", VIEWER_PW)


def test_a_viewer_reads_but_changes_nothing(app: Flask, redis_conn: redis.Redis) -> None:
    c, tok = viewer(app)
    for url in ("/ops/flows", f"/ops/flows/{FLOW}", "/ops/calls", "/ops/inbox", "/ops/metrics",
                "/ops/sim", f"/ops/flows/{FLOW}/versions/{current(app)}.yaml"):
        assert c.get(url).status_code == 200, url
    page = c.get(f"/ops/flows/{FLOW}").get_data(as_text=True)
    assert 'id="publish"' not in page and "read-only" in page
    assert c.post(f"/ops/flows/{FLOW}/check", data=TEXT,
                  headers={"X-CSRF-Token": tok}).status_code == 200
    before = current(app)
    changes: list[tuple[str, dict[str, Any]]] = [
        (f"/ops/flows/{FLOW}/publish", {"yaml": TEXT + "\n# x\n", "based_on": before}),
        (f"/ops/flows/{FLOW}/rollback", {"to": before, "based_on": before}),
        ("/ops/inbox/CA1/handled", {"handled": "1"}),
        ("/ops/flows/new", {"flow_id": "x", "yaml": TEXT}),
    ]
    for url, form in changes:
        r = c.post(url, data={**form, "csrf_token": tok})
        assert r.status_code == 403, (url, r.status_code)
    assert current(app) == before
    assert c.post("/ops/logout", data={"csrf_token": tok}).status_code == 302


def test_a_role_change_applies_at_once(app: Flask, redis_conn: redis.Redis) -> None:
    ops_auth.store_user(redis_conn, "carol", ops_auth.make_hash("carol-password-x"))
    c = app.test_client()
    tok = login(c, "carol", "carol-password-x")
    r = c.post(f"/ops/flows/{FLOW}/publish", data={"yaml": TEXT, "based_on": current(app),
                                                   "csrf_token": tok})
    assert r.status_code != 403
    redis_conn.hset(ops_auth.USERS_KEY, "carol",
                    roles.join("viewer", generate_password_hash("carol-password-x")))
    r = c.post(f"/ops/flows/{FLOW}/publish", data={"yaml": TEXT, "based_on": current(app),
                                                   "csrf_token": tok})
    assert r.status_code == 403
