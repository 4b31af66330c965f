"""What a request of the call server can reach: its settings, flows and store.

One owner for the app's extension keys; routes call :func:`settings`, :func:`flows` and
:func:`get_store` instead of reading ``current_app.extensions`` themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from flask import Flask, current_app

from ivr.config import Settings
from ivr.store.calls import Store
from ivr.store.connection import connect, connect_jobs, separate_jobs

if TYPE_CHECKING:
    from ivr.server.registry import Flows

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
    return store


def settings() -> Settings:
    """The current app's settings."""
    s: Settings = current_app.extensions[SETTINGS_KEY]
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
