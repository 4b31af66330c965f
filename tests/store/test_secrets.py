"""The caller-number hash key: configured, or generated once and shared through Redis;
never a public default."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import redis

from ivr.config import Settings
from ivr.runtime.redact import number_key
from ivr.store.keys import CALLER_KEY_SECRET
from ivr.store.secrets import caller_key_secret, with_caller_key

pytestmark = pytest.mark.redis


def test_no_public_default() -> None:
    with pytest.raises(ValueError, match="caller_key_secret"):
        number_key("+15551230000", "")
    public = hmac.new(b"ivr", b"15551230000", hashlib.sha256).hexdigest()[:32]
    assert number_key("+15551230000", "x") != public


def test_generated_once_and_shared(redis_conn: redis.Redis) -> None:
    first = caller_key_secret(redis_conn)
    assert len(first) == 64 and first != "ivr"
    assert caller_key_secret(redis_conn) == first
    assert redis_conn.get(CALLER_KEY_SECRET) == first.encode()
    assert with_caller_key(Settings(), redis_conn).caller_key_secret == first


def test_configured_wins(redis_conn: redis.Redis) -> None:
    assert caller_key_secret(redis_conn, "mine") == "mine"
    assert redis_conn.get(CALLER_KEY_SECRET) is None
    assert with_caller_key(Settings(caller_key_secret="mine"), redis_conn).caller_key_secret \
        == "mine"


def test_two_apps_hash_a_number_alike(redis_url: str) -> None:
    from ivr.server.context import settings_of
    from tests.server.test_web import make_app

    a, b = make_app(redis_url), make_app(redis_url)
    key_a, key_b = settings_of(a).caller_key_secret, settings_of(b).caller_key_secret
    assert key_a and key_a == key_b
