"""The checks on settings' values once they are loaded: each problem at its own setting
(its line in ``config.yaml``, or the variable or default it came from), with the fix.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.config.settings import ARCHIVE_SCHEMES, ENV_PREFIX, Settings, host_port, masked_url
from ivr.flowlang import phone
from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.positions import Source

ADDRESS_LISTS = frozenset({"redis_cluster_nodes", "redis_sentinels", "jobs_redis_sentinels"})
"""Settings that are lists of ``host:port``: a YAML list, JSON, or ``a:1,b:2`` text."""


def _problem(src: Source | None, origin: str, path: tuple[str, ...], message: str,
             hint: str) -> Problem:
    if src is not None:
        return src.problem("IVR903", message, path, hint, key=True)
    return Problem("IVR903", message, origin, hint=hint)


_POSITIVE = {
    "call_ttl": "seconds a call's state is kept after its last turn, e.g. 14400",
    "redis_timeout": "seconds a Redis command may take before the caller gets a person, "
                     "e.g. 2.0",
    "redis_connect_timeout": "seconds to open a Redis connection, e.g. 0.5",
    "max_body": "the largest request body in bytes, e.g. 65536",
    "callback_tries": "times a callback is placed before giving up, e.g. 3",
    "callback_retry_minutes": "minutes between callback tries, e.g. 30",
    "archive_timeout": "seconds to connect to the archive database and per statement, e.g. 10"}


def check_values(s: Settings, src: Source | None, from_file: set[str],
           origins: Mapping[str, str]) -> list[Problem]:
    problems = []

    def bad(key: str, message: str, hint: str) -> None:
        where = src if key in from_file else None
        origin = origins.get(key, "defaults")
        if origin == "defaults":
            hint = f"set {key} in config.yaml or {ENV_PREFIX}{key.upper()}: " + hint
        problems.append(_problem(where, origin, (key,), message, hint))

    if not s.emergency_number:
        bad("emergency_number", "emergency_number is not set", "the number of a person, "
            "e.g. \"+15551230000\": every failure dials it")
    elif not phone.is_e164(s.emergency_number):
        bad("emergency_number", f"emergency_number {s.emergency_number!r} is not an E.164 "
            "phone number", "set it to the number of a person, e.g. \"+15551230000\": every "
            "failure dials it")
    if s.clock:
        try:
            s.now()
        except ValueError:
            bad("clock", f"clock {s.clock!r} is not an ISO time",
                "e.g. \"2026-11-20T14:05:00-05:00\", or leave it empty")
    for key, hint in _POSITIVE.items():
        if getattr(s, key) <= 0:
            bad(key, f"{key} must be positive, not {getattr(s, key)}", hint)
    scheme = s.archive_url.split("://", 1)[0].lower() if "://" in s.archive_url else None
    if s.archive_url and scheme not in ARCHIVE_SCHEMES:
        bad("archive_url", f"archive_url {masked_url(s.archive_url)!r} is not a PostgreSQL or "
            "SQLite URL", "e.g. postgresql://user:password@host:5432/ivr (DATABASE_URL), or "
            "leave it empty for the SQLite file archive_path")
    for key, message, hint in topology_problems(s):
        bad(key, message, hint)
    bad_regions = [r for r in s.callback_regions() if not phone.is_region(r)]
    if bad_regions:
        bad("callback_countries", f"callback_countries: unknown country code(s) "
            f"{', '.join(bad_regions)}", "ISO 3166 codes, comma-separated, e.g. \"US,CA\"")
    sizes = {"compiled_cache_size": s.compiled_cache_size,
             "draft_cache_size": s.draft_cache_size, "svg_cache_size": s.svg_cache_size}
    for key, size in sizes.items():
        if size < 1:
            bad(key, f"{key} must be at least 1, not {size}", "a cache holds at least one entry")
    return problems


def topology_problems(s: Settings) -> list[tuple[str, str, str]]:
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
