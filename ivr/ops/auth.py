"""Who may use the ops console: users, passwords, login throttling, CSRF tokens, secrets.

Users are ``{name: werkzeug password hash}``, looked up (first hit wins) in the Flask
config ``OPS_USERS``, the ``ops_users`` setting of :class:`~ivr.config.Settings`, the
``IVR_OPS_USERS`` environment variable (JSON) and the Redis hash
``ivr:ops:users`` (what ``ivr ops-user NAME --store`` writes). A hash is made with
:func:`make_hash` (``werkzeug.security.generate_password_hash``).

Failed logins are counted in Redis per (IP, user) and per IP; past the limit the login
form answers 429 until the window has passed, whether the password is right or not.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.config import Settings

USERS_KEY = "ivr:ops:users"
SECRET_KEY = "ivr:ops:secret_key"
FAILS_USER = "ivr:ops:login:{{{}}}:{}"
FAILS_IP = "ivr:ops:login:{{{}}}"
"""Failed logins per (IP, user) and per IP, tagged with the IP: one MGET, one slot."""
MAX_FAILS = 5
MAX_FAILS_IP = 20
WINDOW = 300
# Checked against when the user is unknown, so both cases take the same time.
_DUMMY = generate_password_hash("not a password")


def make_hash(password: str) -> str:
    """The hash to put in ``ops_users`` for ``password``."""
    return generate_password_hash(password)


def users_from(config: Mapping[str, Any], settings: Settings,
               environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Users named in the app config, the settings or the environment (not Redis)."""
    env = os.environ if environ is None else environ
    for found in (config.get("OPS_USERS"), settings.ops_users):
        if isinstance(found, Mapping) and found:
            return {str(k): str(v) for k, v in found.items()}
    raw = env.get("IVR_OPS_USERS", "")
    if raw:
        data = json.loads(raw)
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items()}
    return {}


def user_hash(conn: redis.Redis, static: Mapping[str, str], name: str) -> str | None:
    """The stored password hash of ``name`` (config first, then Redis), or None."""
    if name in static:
        return static[name]
    raw = conn.hget(USERS_KEY, name)
    return raw.decode() if isinstance(raw, bytes) else raw


def store_user(conn: redis.Redis, name: str, password_hash: str) -> None:
    """Add or replace a console user in Redis."""
    conn.hset(USERS_KEY, name, password_hash)


@dataclass
class Attempt:
    """The result of a login attempt: ``ok``, or why not and how long to wait."""

    ok: bool
    limited: bool = False
    retry_after: int = 0


def _fail_keys(ip: str, name: str) -> tuple[str, str]:
    return FAILS_USER.format(ip, name.lower()[:64]), FAILS_IP.format(ip)


def throttled(conn: redis.Redis, ip: str, name: str) -> int:
    """Seconds to wait before this (IP, user) may try again; 0 when it may."""
    per_user, per_ip = _fail_keys(ip, name)
    got = conn.mget([per_user, per_ip])
    counts = [int(x) if x else 0 for x in got]
    if counts[0] >= MAX_FAILS or counts[1] >= MAX_FAILS_IP:
        key = per_user if counts[0] >= MAX_FAILS else per_ip
        return max(1, int(conn.ttl(key)))
    return 0


def login(conn: redis.Redis, static: Mapping[str, str], name: str, password: str,
          ip: str) -> Attempt:
    """Check a login, counting failures per (IP, user) and per IP in a 5-minute window."""
    wait = throttled(conn, ip, name)
    if wait:
        return Attempt(False, True, wait)
    stored = user_hash(conn, static, name) if name else None
    good = check_password_hash(stored or _DUMMY, password) and stored is not None
    per_user, per_ip = _fail_keys(ip, name)
    if good:
        conn.delete(per_user)
        return Attempt(True)
    pipe = conn.pipeline()
    for key in (per_user, per_ip):  # the window starts at the first failure
        pipe.set(key, 0, ex=WINDOW, nx=True)
        pipe.incr(key)
    pipe.execute()
    return Attempt(False, False, 0)


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens (False when either is empty)."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def secret_key(config: Mapping[str, Any], settings: Settings, conn: redis.Redis,
               environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The session signing key and whether it was generated (dev only).

    Order: Flask ``SECRET_KEY``, the ``secret_key`` setting, ``IVR_SECRET_KEY``; else a
    random key kept in Redis (``ivr:ops:secret_key``) so every process of a dev setup
    shares it.
    """
    env = os.environ if environ is None else environ
    for found in (config.get("SECRET_KEY"), settings.secret_key,
                  env.get("IVR_SECRET_KEY")):
        if found:
            return str(found), False
    try:
        conn.set(SECRET_KEY, secrets.token_hex(32), nx=True)
        raw = conn.get(SECRET_KEY)
    except redis.RedisError:
        raw = None
    if isinstance(raw, bytes):
        return raw.decode(), True
    return secrets.token_hex(32), True
