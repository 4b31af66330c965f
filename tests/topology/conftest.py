"""Session fixtures: a 3-primary Redis Cluster, a Sentinel set and plain Redis servers for
the jobs, all real servers started here and stopped at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.topology.servers import Cluster, SentinelSet, missing_binaries, plain_redis


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = missing_binaries()
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"needs Debian's {', '.join(missing)} (apt-get install "
                            "redis-server redis-sentinel redis-tools)")
    for item in items:
        if "tests/topology" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three primaries on loopback (flushed between the tests that use it)."""
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.up()
        yield c
    finally:
        c.close()


@pytest.fixture
def fresh_cluster(cluster: Cluster) -> Cluster:
    cluster.flushall()
    return cluster


@pytest.fixture(scope="session")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    s = SentinelSet(tmp_path_factory.mktemp("sentinel"))
    try:
        s.up()
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def jobs_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    servers, url = plain_redis(tmp_path_factory.mktemp("jobs-redis"))
    try:
        yield url
    finally:
        servers.close()


@pytest.fixture
def jobs_redis(jobs_redis_server: str) -> Iterator[str]:
    """The jobs Redis, empty."""
    conn = redis.Redis.from_url(jobs_redis_server)
    conn.flushall()
    yield jobs_redis_server
    conn.close()
