"""The Redis topology settings: ``host:port`` lists (Sentinels, cluster nodes) and the
combinations of call-state and jobs Redis settings that cannot work together."""

from __future__ import annotations

import json
from typing import Any, Protocol


class RedisSettings(Protocol):
    """The Redis settings of :class:`ivr.config.Settings` that :func:`topology_problems`
    reads."""

    redis_url: str
    redis_cluster: bool
    redis_cluster_nodes: list[str]
    redis_sentinels: list[str]
    redis_sentinel_master: str
    jobs_redis_url: str
    jobs_redis_sentinels: list[str]
    jobs_redis_sentinel_master: str


ADDRESS_LISTS = frozenset({"redis_cluster_nodes", "redis_sentinels", "jobs_redis_sentinels"})
"""Settings that are lists of ``host:port``: a YAML list, JSON, or ``a:1,b:2`` text."""


def addresses(value: Any) -> list[str]:
    """The ``host:port`` list of a setting in :data:`ADDRESS_LISTS` (ValueError if not one)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split(",")
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(value)
    return [x.strip() for x in value if x.strip()]


def host_port(address: str) -> tuple[str, int]:
    """``("10.0.0.5", 26379)`` from ``"10.0.0.5:26379"`` (ValueError when it is not one)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(address)
    return host.strip("[]"), int(port)


def topology_problems(s: RedisSettings) -> list[tuple[str, str, str]]:
    """The Redis settings that cannot work together: (setting, message, hint) each."""
    out = [(key, f"{key}: {address!r} is not host:port", 'e.g. "10.0.0.5:26379"')
           for key in sorted(ADDRESS_LISTS) for address in getattr(s, key)
           if not _is_address(address)]
    pairs = (("redis_sentinels", "redis_sentinel_master"),
             ("jobs_redis_sentinels", "jobs_redis_sentinel_master"))
    for nodes, master in pairs:
        if bool(getattr(s, nodes)) != bool(getattr(s, master)):
            missing = master if getattr(s, nodes) else nodes
            out.append((missing, f"{nodes} and {master} go together; {missing} is not set",
                        "set both to use Sentinel, or neither"))
    if s.jobs_redis_url and s.jobs_redis_sentinels:
        out.append(("jobs_redis_url", "jobs_redis_url and jobs_redis_sentinels are both set",
                    "the jobs Redis is one or the other"))
    if s.redis_sentinels and (s.redis_cluster or s.redis_url):
        other = "redis_cluster" if s.redis_cluster else "redis_url"
        out.append(("redis_sentinels", f"redis_sentinels and {other} are both set",
                    "call state is on one Redis: a URL, a Sentinel master or a cluster"))
    if s.redis_cluster_nodes and not s.redis_cluster:
        out.append(("redis_cluster", "redis_cluster_nodes is set but redis_cluster is off",
                    "set redis_cluster: true to use the cluster"))
    if s.redis_cluster and not (s.redis_cluster_nodes or s.redis_url):
        out.append(("redis_cluster_nodes", "redis_cluster is on but redis_cluster_nodes "
                    "(or redis_url) names no node",
                    'list a few nodes: redis_cluster_nodes: ["10.0.0.5:6379", ...]'))
    if s.redis_cluster and not (s.jobs_redis_url or s.jobs_redis_sentinels):
        out.append(("jobs_redis_url", "redis_cluster is on but jobs_redis_url is not set: RQ "
                    "does not support Redis Cluster",
                    "set jobs_redis_url (or jobs_redis_sentinels and "
                    "jobs_redis_sentinel_master) to a plain Redis for the job queues"))
    return out


def _is_address(address: str) -> bool:
    try:
        host_port(address)
    except ValueError:
        return False
    return True
