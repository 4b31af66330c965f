"""Console sessions the server can end: a random id in the signed cookie names a Redis key
(:data:`~ivr.store.keys.OPS_SESSION`) that holds the user and the login time.

A session ends when the user logs out (that key is deleted, so a saved cookie stops
working), logs out everywhere (every key in the user's set
:data:`~ivr.store.keys.OPS_USER_SESSIONS` is deleted), has been idle for
``ops_idle_minutes`` (the key's TTL, renewed by each request), or is older than
``ops_session_hours`` whatever its use (the login time it holds).
"""

from __future__ import annotations

import time

import redis

from ivr.ops import auth as ops_auth
from ivr.store.keys import OPS_SESSION, OPS_USER_SESSIONS


def start(conn: redis.Redis, name: str, idle: int, absolute: int) -> str:
    """A new session of ``name``; its id (for the cookie)."""
    sid = ops_auth.new_token()
    conn.set(OPS_SESSION.format(sid), f"{name} {int(time.time())}", ex=min(idle, absolute))
    conn.sadd(OPS_USER_SESSIONS.format(name), sid)
    conn.expire(OPS_USER_SESSIONS.format(name), absolute)
    return sid


def alive(conn: redis.Redis, sid: str, name: str, idle: int, absolute: int) -> bool:
    """``sid`` is ``name``'s, not logged out, not idle too long, not too old; its idle
    clock starts again."""
    raw = conn.get(OPS_SESSION.format(sid))
    text = raw.decode() if isinstance(raw, bytes) else (raw or "")
    who, _, at = text.rpartition(" ")
    if who != name or not at.isdigit():
        return False
    left = absolute - (int(time.time()) - int(at))
    if left <= 0:
        conn.delete(OPS_SESSION.format(sid))
        return False
    conn.expire(OPS_SESSION.format(sid), min(idle, left))
    return True


def end(conn: redis.Redis, sid: str, name: str) -> None:
    """Log this session out."""
    conn.delete(OPS_SESSION.format(sid))
    conn.srem(OPS_USER_SESSIONS.format(name), sid)


def end_all(conn: redis.Redis, name: str) -> int:
    """Log every session of ``name`` out (on every browser); how many were open."""
    sids = [s.decode() if isinstance(s, bytes) else str(s)
            for s in conn.smembers(OPS_USER_SESSIONS.format(name))]
    open_now = sum(int(conn.delete(OPS_SESSION.format(sid))) for sid in sids)
    conn.delete(OPS_USER_SESSIONS.format(name))
    return open_now
