"""Secrets every process of one deployment must share, made once and kept in Redis.

The caller-number hash (:func:`ivr.runtime.redact.number_key`) needs a key: a phone
number's space is small enough to brute-force an unkeyed or publicly keyed hash back to
the number. ``caller_key_secret`` wins when set (production: set it, and keep it stable,
or caller histories stop matching); otherwise a random key is generated once with
``SET NX`` under :data:`~ivr.store.keys.CALLER_KEY_SECRET` and every web process, worker
and CLI command on that Redis reads the same one (the zero-config embedded setup).
"""

from __future__ import annotations

import dataclasses
import secrets

import redis

from ivr.config import Settings
from ivr.store.keys import CALLER_KEY_SECRET


def caller_key_secret(conn: redis.Redis, configured: str = "") -> str:
    """``configured``, else the deployment's generated key (made on first use)."""
    if configured:
        return configured
    conn.set(CALLER_KEY_SECRET, secrets.token_hex(32), nx=True)
    raw = conn.get(CALLER_KEY_SECRET)
    text = raw.decode() if isinstance(raw, bytes) else str(raw or "")
    if not text:
        raise redis.RedisError(f"{CALLER_KEY_SECRET} could not be read back")
    return text


def with_caller_key(settings: Settings, conn: redis.Redis) -> Settings:
    """``settings`` with ``caller_key_secret`` filled in (RedisError when Redis is down
    and none is configured)."""
    if settings.caller_key_secret:
        return settings
    return dataclasses.replace(settings, caller_key_secret=caller_key_secret(conn))
