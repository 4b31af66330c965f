"""What a request of the call server can reach: its settings, flows and store.

One owner for the app's extension keys; routes call :func:`settings`, :func:`flows` and
:func:`get_store` instead of reading ``current_app.extensions`` themselves.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import redis
from flask import Flask, current_app

from ivr.config import Settings
from ivr.store.calls import Store
from ivr.store.connection import connect, connect_jobs, separate_jobs
from ivr.store.secrets import with_caller_key

if TYPE_CHECKING:
    from ivr.server.registry import Flows

log = logging.getLogger(__name__)
RETRY_KEY = "ivr.caller_key_retry_at"
RETRY_SECONDS = 30.0
FLOWS_KEY = "ivr.flows"
SETTINGS_KEY = "ivr.settings"
STORE_KEY = "ivr.store"
JOBS_KEY = "ivr.jobs"


def init_app(app: Flask, settings: Settings) -> Store:
    """Attach ``settings``, a store (one connection pool per app) and the jobs Redis (the
    store's own Redis unless ``jobs_redis_url`` / ``jobs_redis_sentinels`` is set) to
    ``app``."""
    app.extensions[SETTINGS_KEY] = settings
    store = app.extensions[STORE_KEY] = Store(connect(settings), settings.call_ttl)
    app.extensions[JOBS_KEY] = connect_jobs(settings) if separate_jobs(settings) \
        else store.conn
    resolve_secrets(app)
    return store


def settings() -> Settings:
    """The current app's settings (``caller_key_secret`` filled in: generated and kept in
    Redis when not configured, see :mod:`ivr.store.secrets`; until Redis answers, '')."""
    s: Settings = current_app.extensions[SETTINGS_KEY]
    if not s.caller_key_secret:
        s = resolve_secrets(current_app)
    return s


def resolve_secrets(app: Flask) -> Settings:
    """Fill in the app's generated secrets from Redis (left as they are when it is down)."""
    s: Settings = app.extensions[SETTINGS_KEY]
    if s.caller_key_secret or time.monotonic() < app.extensions.get(RETRY_KEY, 0.0):
        return s  # known, or Redis was down a moment ago: no request waits on it again
    try:
        s = app.extensions[SETTINGS_KEY] = with_caller_key(s, app.extensions[STORE_KEY].conn)
        if s.validate_signatures and not app.testing and \
                not app.extensions.get("ivr.caller_key_warned"):
            app.extensions["ivr.caller_key_warned"] = True
            log.warning("caller_key_secret is not set: using the key generated in Redis "
                        "(ivr:secret:caller-key). Set IVR_CALLER_KEY_SECRET in production.")
    except redis.RedisError:
        app.extensions[RETRY_KEY] = time.monotonic() + RETRY_SECONDS
        log.warning("caller_key_secret not set and Redis unavailable: caller history off "
                    "until it is back")
    return s


def flows() -> Flows:
    """The current app's flow registry."""
    f: Flows = current_app.extensions[FLOWS_KEY]
    return f


def get_store() -> Store:
    """The current app's Store (one per app: its connection pool serves every request)."""
    store: Store = current_app.extensions[STORE_KEY]
    return store


def jobs_redis() -> redis.Redis:
    """The Redis of the RQ queues (the store's own Redis unless the jobs have another)."""
    conn: redis.Redis = current_app.extensions[JOBS_KEY]
    return conn


def jobs_redis_of(app: Flask) -> redis.Redis:
    conn: redis.Redis = app.extensions[JOBS_KEY]
    return conn


def settings_of(app: Flask) -> Settings:
    """The settings ``app`` was built with (outside a request)."""
    s: Settings = app.extensions[SETTINGS_KEY]
    return s


def store_of(app: Flask) -> Store:
    """The store of ``app`` (outside a request: tests, tools)."""
    store: Store = app.extensions[STORE_KEY]
    return store
