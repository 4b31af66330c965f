"""Who may use the ops console: users, passwords, login throttling, CSRF tokens, secrets.

Users are ``{name: werkzeug password hash}``, looked up (first hit wins) in the Flask
config ``OPS_USERS``, the ``ops_users`` setting of :class:`~ivr.config.Settings`, the
``IVR_OPS_USERS`` environment variable (JSON) and the Redis hash
``ivr:ops:users`` (what ``ivr ops-user NAME --store`` writes). A hash is made with
:func:`make_hash` (``werkzeug.security.generate_password_hash``).

Every login attempt is counted in Redis BEFORE its password is checked (one Lua INCR of
both counters, so parallel attempts cannot all slip under the limit), per (client address,
user) and per client address; past the limit the login form answers 429 until the window
has passed, with no password check at all. The client address is ``request.remote_addr``,
which :class:`~werkzeug.middleware.proxy_fix.ProxyFix` sets from ``X-Forwarded-For`` when
``behind_proxy`` is on: someone guessing from elsewhere does not lock the user out
everywhere. A successful login clears its (address, user) counter and takes itself off the
address's.

A stored user is ``"<role> <hash>"`` (:mod:`ivr.ops.roles`). New passwords must pass
:func:`password_problem`: at least :data:`MIN_LENGTH` characters, not one of the most
common passwords (``common-passwords.txt``, bundled), not the user name.
"""

from __future__ import annotations

import functools
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.config import Settings
from ivr.ops import roles

USERS_KEY = "ivr:ops:users"
SECRET_KEY = "ivr:ops:secret_key"
FAILS_USER = "ivr:ops:login:{{{}}}:{}"
FAILS_IP = "ivr:ops:login:{{{}}}"
"""Failed logins per (IP, user) and per IP, tagged with the IP: one MGET, one slot."""
MAX_FAILS = 5
MAX_FAILS_IP = 20
WINDOW = 300
MIN_LENGTH = 12
# Both counters up by one, each window starting at its first attempt; returns both counts.
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  out[i] = n
end
return out
"""
# Checked against when the user is unknown, so both cases take the same time.
_DUMMY = generate_password_hash("not a password")


def make_hash(password: str, role: str = roles.OPS) -> str:
    """The value to put in ``ops_users`` for ``password`` (``"<role> <hash>"``)."""
    return roles.join(role, generate_password_hash(password))


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of the most common passwords (lower case)."""
    text = resources.files("ivr.ops").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def password_problem(name: str, password: str) -> str:
    """Why ``password`` may not be used ('' when it may)."""
    low = password.lower()
    if len(password) < MIN_LENGTH:
        return f"the password is too short: at least {MIN_LENGTH} characters, please"
    if low in common_passwords() or low.rstrip("0123456789!") in common_passwords():
        return "the password is one of the most common passwords: choose another"
    if name and name.lower() in low:
        return "the password contains the user name: choose another"
    if len(set(password)) < 4:
        return "the password repeats too few characters: choose another"
    return ""


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


def user_record(conn: redis.Redis, static: Mapping[str, str],
                name: str) -> tuple[str, str] | None:
    """``(role, password hash)`` of ``name`` (config first, then Redis), or None."""
    if name in static:
        return roles.split(static[name])
    raw = conn.hget(USERS_KEY, name)
    if raw is None:
        return None
    return roles.split(raw.decode() if isinstance(raw, bytes) else str(raw))


def user_role(conn: redis.Redis, static: Mapping[str, str], name: str) -> str | None:
    """The role of ``name`` (None: no such user)."""
    found = user_record(conn, static, name)
    return found[0] if found else None


def store_user(conn: redis.Redis, name: str, stored: str) -> None:
    """Add or replace a console user in Redis (``stored``: from :func:`make_hash`)."""
    conn.hset(USERS_KEY, name, stored)


@dataclass
class Attempt:
    """The result of a login attempt: ``ok`` (and the role), or why not and how long to
    wait; ``checked`` says whether the password was verified at all."""

    ok: bool
    limited: bool = False
    retry_after: int = 0
    role: str = ""
    checked: bool = False


def _fail_keys(ip: str, name: str) -> tuple[str, str]:
    return FAILS_USER.format(ip, name.lower()[:64]), FAILS_IP.format(ip)


def count_attempt(conn: redis.Redis, ip: str, name: str) -> int:
    """Count one attempt (atomically, before any password check); the seconds to wait
    when it is over a limit, else 0."""
    keys = _fail_keys(ip, name)
    per_user, per_ip = (int(n) for n in conn.register_script(_COUNT)(
        keys=list(keys), args=[WINDOW]))
    if per_user > MAX_FAILS or per_ip > MAX_FAILS_IP:
        key = keys[0] if per_user > MAX_FAILS else keys[1]
        return max(1, int(conn.ttl(key)))
    return 0


def login(conn: redis.Redis, static: Mapping[str, str], name: str, password: str,
          ip: str) -> Attempt:
    """Count the attempt, then (under the limits) check the password; see the module."""
    wait = count_attempt(conn, ip, name)
    if wait:
        return Attempt(False, True, wait)
    found = user_record(conn, static, name) if name else None
    good = check_password_hash(found[1] if found else _DUMMY, password) and found is not None
    if good and found is not None and found[0] in roles.ROLES:
        per_user, per_ip = _fail_keys(ip, name)
        pipe = conn.pipeline()
        pipe.delete(per_user)
        pipe.decr(per_ip)  # a good login is not a failure: an office behind one NAT
        pipe.execute()     # logging in all morning never locks itself out
        return Attempt(True, role=found[0], checked=True)
    return Attempt(False, checked=True)


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
