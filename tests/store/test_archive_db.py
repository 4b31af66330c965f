"""The archive's database: migrations (alembic) and the start-up rule, adopting SQLite
archives of the code before migrations, copying SQLite into PostgreSQL, wrong URLs, and
PostgreSQL down or slow while jobs run — on a real PostgreSQL server."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ivr.cli import main
from ivr.config import ConfigError, Settings, load_settings
from ivr.jobs import enqueue as jobs
from ivr.jobs import tasks, worker
from ivr.jobs.archive import Archive, ArchiveError, ArchiveUnreachable
from ivr.store.db import schema
from ivr.store.db.engine import database_url, engine_for, target_of
from ivr.store.db.schema import HEAD
from ivr.store.db.tables import metadata
from tests.conftest import start_postgres
from tests.jobs.test_jobs import call_jobs, store_call, work
from tests.pg import PgServer, free_port

NOW = "2026-11-20T19:00:00+00:00"

# The schema the SQLite-only ivr created on open (its SCHEMA text, verbatim).
LEGACY = """
CREATE TABLE calls (sid TEXT PRIMARY KEY, flow TEXT NOT NULL, version TEXT NOT NULL DEFAULT '',
    caller TEXT NOT NULL DEFAULT '', caller_key TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '[]', started TEXT NOT NULL DEFAULT '', ended TEXT NOT NULL);
CREATE INDEX calls_by_caller ON calls (caller_key, ended);
CREATE TABLE turns (sid TEXT NOT NULL, turn INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (sid, turn));
CREATE TABLE inbox (sid TEXT PRIMARY KEY, flow TEXT NOT NULL, version TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '', path TEXT NOT NULL DEFAULT '[]',
    said TEXT NOT NULL DEFAULT '', caller TEXT NOT NULL DEFAULT '',
    caller_key TEXT NOT NULL DEFAULT '', at TEXT NOT NULL, handled INTEGER NOT NULL DEFAULT 0,
    recording TEXT NOT NULL DEFAULT '');
CREATE INDEX inbox_by_time ON inbox (at);
CREATE TABLE inbox_said (sid TEXT NOT NULL, part TEXT NOT NULL, said TEXT NOT NULL,
    at TEXT NOT NULL, PRIMARY KEY (sid, part));
CREATE TABLE callbacks (sid TEXT PRIMARY KEY, flow TEXT NOT NULL, caller TEXT NOT NULL DEFAULT '',
    caller_key TEXT NOT NULL DEFAULT '', number TEXT NOT NULL DEFAULT '',
    recording TEXT NOT NULL DEFAULT '', duration INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '', slots TEXT NOT NULL DEFAULT '{}',
    path TEXT NOT NULL DEFAULT '[]', at TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
INSERT INTO calls (sid, flow, caller, ended) VALUES ('CAold', 'f', '+1******0000', '%s');
INSERT INTO turns VALUES ('CAold', 1, '{"turn":1}');
INSERT INTO inbox (sid, flow, said, at) VALUES ('CAold', 'f', 'b; a', '%s');
INSERT INTO inbox_said VALUES ('CAold', 'said:b', 'b', '%s');
INSERT INTO inbox_said VALUES ('CAold', 'said:a', 'a', '%s');
INSERT INTO callbacks (sid, flow, at, done) VALUES ('CAold', 'f', '%s', 1);
""" % ((NOW,) * 5)


def ivr(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def legacy_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript(LEGACY)
    return path


@pytest.fixture
def empty_pg(pg_server: PgServer) -> str:
    """A new, empty database on the session's server."""
    return pg_server.create_database()


# --- the schema ------------------------------------------------------------------------

def test_head_is_the_newest_migration() -> None:
    assert schema.scripts().get_current_head() == schema.HEAD


def test_migrations_build_exactly_the_tables_of_tables_py(archive_target: str) -> None:
    engine = Archive(archive_target).engine
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert schema.status(engine).current == (schema.head(),)


def test_an_archive_of_the_code_before_migrations_is_adopted_with_every_row(
        tmp_path: Path) -> None:
    path = legacy_sqlite(tmp_path / "old.db")
    archive = Archive(path)                       # the embedded default upgrades in place
    assert archive.counts() == {"calls": 1, "turns": 1, "inbox": 1, "callbacks": 1}
    assert archive.callbacks(pending_only=False)[0]["done"] is True
    archive.add_inbox({"sid": "CAold", "flow": "f", "said": "c", "at": NOW})
    assert archive.inbox()[0]["said"] == "b; a; c"    # written order kept (rowid -> seq)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


def test_a_table_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "x.db") as db:
        db.execute("CREATE TABLE calls (id INTEGER)")
    with pytest.raises(RuntimeError, match="not an ivr archive table"):
        Archive(tmp_path / "x.db")


def test_an_empty_postgresql_is_created_and_a_behind_one_refused_with_the_command(
        empty_pg: str, tmp_path: Path) -> None:
    engine = engine_for(empty_pg)
    schema.upgrade(engine, "0001")                  # as if deployed by an older ivr
    with pytest.raises(ArchiveError, match="ivr archive upgrade"):
        Archive(empty_pg)
    code, out = ivr("worker", "--burst", "--archive", empty_pg,
                    "--redis-url", "redis://127.0.0.1:1")
    assert code == 1 and "the worker did not start" in out and "ivr archive upgrade" in out
    code, out = ivr("archive", "status", "--archive", empty_pg)
    assert code == 1 and f"revision: 0001 (this ivr needs {HEAD})" in out
    code, out = ivr("archive", "upgrade", "--archive", empty_pg)
    assert code == 0 and f"revision 0001 -> {HEAD}" in out
    assert Archive(empty_pg).counts()["calls"] == 0
    code, out = ivr("archive", "status", "--archive", empty_pg)
    assert code == 0 and "rows: calls 0" in out


def test_the_web_refuses_to_start_on_a_behind_postgresql(empty_pg: str,
                                                         redis_url: str) -> None:
    from tests.ops.test_ops import make_app

    schema.upgrade(engine_for(empty_pg), "0001")
    with pytest.raises(ArchiveError, match="ivr archive upgrade"):
        make_app(redis_url, empty_pg)


def test_a_revision_from_a_newer_ivr_is_refused(empty_pg: str) -> None:
    engine = engine_for(empty_pg)
    schema.upgrade(engine)
    with engine.begin() as db:
        db.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(ArchiveError, match="0099, which this ivr does not know"):
        Archive(empty_pg)


# --- SQLite -> PostgreSQL --------------------------------------------------------------

def test_migrate_copies_sqlite_into_postgresql_once(empty_pg: str, tmp_path: Path) -> None:
    path = legacy_sqlite(tmp_path / "old.db")
    old = Archive(path, secret="k")
    old.record_call({"sid": "CA2", "flow": "f", "caller": "+15551230000", "ended": NOW},
                    [{"turn": n} for n in range(1, 4)])
    old.add_inbox({"sid": "CA2", "flow": "f", "said": "x", "at": NOW}, "CA2-t2-0-inbox")
    code, out = ivr("archive", "migrate", "--archive", str(path), "--to", empty_pg)
    assert code == 0, out
    assert "calls 2 new, turns 4 new, inbox 2 new, inbox_said 3 new, callbacks 1 new" in out
    new = Archive(empty_pg, secret="k")
    code, out = ivr("archive", "migrate", "--archive", str(path), "--to", empty_pg)
    assert code == 0 and "calls 0 new, turns 0 new, inbox 0 new, inbox_said 0 new" in out
    for read in (lambda a: a.call("CA2"), lambda a: a.inbox(), lambda a: a.call("CAold"),
                 lambda a: a.callbacks(False), lambda a: a.history("+15551230000", 3650)):
        assert read(new) == read(old)
    code, out = ivr("archive", "migrate", "--archive", empty_pg, "--to", empty_pg)
    assert code == 1 and "is the archive being copied" in out


# --- wrong settings --------------------------------------------------------------------

def test_a_bad_scheme_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, {"archive_url": "mysql://u:secret@db/ivr",
                             "emergency_number": "+15551230000"}, environ={})
    message = str(err.value.problems[0])
    assert "archive_url 'mysql://u:***@db/ivr' is not a PostgreSQL or SQLite URL" in message
    assert "secret" not in message
    with pytest.raises(ArchiveError, match="archive_url .* is not a PostgreSQL or SQLite"):
        Archive("http://example.com/db")


def test_database_url_is_honoured_in_herokus_spelling() -> None:
    s = load_settings(None, {"emergency_number": "+15551230000"},
                      environ={"DATABASE_URL": "postgres://u:p@db.example.com:5432/d1"})
    assert target_of(s) == "postgres://u:p@db.example.com:5432/d1"
    assert database_url(target_of(s)).drivername == "postgresql+psycopg"
    s = load_settings(None, {"emergency_number": "+15551230000"}, environ={
        "DATABASE_URL": "postgres://x@h/d", "IVR_ARCHIVE_URL": "postgresql://y@h/d"})
    assert s.archive_url == "postgresql://y@h/d"
    assert target_of(Settings()) == "var/archive.db"


def test_an_unreachable_database_is_a_clear_error_naming_the_setting() -> None:
    url = f"postgresql://ivr:pw@127.0.0.1:{free_port()}/ivr"
    with pytest.raises(ArchiveUnreachable) as err:
        Archive(url)
    assert "cannot reach the archive database" in str(err.value)
    assert "archive_url / DATABASE_URL" in str(err.value) and ":pw@" not in str(err.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung database)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def test_a_database_that_never_answers_fails_within_the_timeout(silent_server: int) -> None:
    started = time.monotonic()
    with pytest.raises(ArchiveUnreachable):
        Archive(f"postgresql://ivr@127.0.0.1:{silent_server}/ivr", timeout=2)
    assert time.monotonic() - started < 6


def test_a_slow_statement_fails_fast_instead_of_waiting(archive_target: str) -> None:
    if "://" not in archive_target:
        pytest.skip("statement and lock timeouts are PostgreSQL's")
    archive = Archive(archive_target, timeout=1)
    blocker = engine_for(archive_target).connect()
    try:
        blocker.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        with pytest.raises(OperationalError):
            archive.record_call({"sid": "CA1", "flow": "f", "ended": NOW}, [])
        assert time.monotonic() - started < 4
    finally:
        blocker.rollback()
        blocker.close()
    assert archive.record_call({"sid": "CA1", "flow": "f", "ended": NOW}, []) == 0


# --- PostgreSQL down while jobs run ----------------------------------------------------

@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A PostgreSQL server of this test alone (it is stopped and started again)."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.destroy()


@pytest.mark.redis
def test_postgresql_down_jobs_retry_then_wait_in_the_failed_registry_then_succeed(
        own_pg: PgServer, redis_conn: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    url = own_pg.create_database()
    settings = Settings(archive_url=url, spool_dir=str(tmp_path / "spool"),
                        job_retry_intervals=[0], archive_timeout=2)
    tasks.configure(settings)
    try:
        tasks.archive()                                   # the worker's check at start
        store_call(redis_conn)
        jobs.submit(redis_conn, call_jobs(), settings)
        own_pg.stop()                                     # the database goes away
        work(redis_conn)                                  # every try fails, then 3 retries
        failed = {f["id"]: f for f in worker.failed(redis_conn)}
        assert set(failed) == {"CA1-record", "CA1-inbox", "CA1-callback"}
        assert "OperationalError" in failed["CA1-record"]["error"]
        code, out = ivr("jobs", "list", "--redis-url", redis_url)
        assert "failed 3" in out and "failed CA1-record" in out
        own_pg.start()                                    # ... and comes back
        code, out = ivr("jobs", "retry", "--all", "--redis-url", redis_url)
        assert code == 0 and "requeued 3 job(s)" in out
        work(redis_conn)
        assert worker.failed(redis_conn) == []
        assert Archive(url).counts() == {"calls": 1, "turns": 3, "inbox": 1, "callbacks": 1}
    finally:
        tasks.configure(None)


@pytest.mark.redis
def test_a_hung_archive_never_slows_a_call_and_its_pages_say_so(
        redis_url: str, silent_server: int, caplog: pytest.LogCaptureFixture) -> None:
    from tests.ops.test_ops import FLOW, login, make_app

    app = make_app(redis_url, f"postgresql://ivr@127.0.0.1:{silent_server}/ivr",
                   archive_timeout=1)           # starts: calls do not need the archive
    assert "cannot reach the archive database" in caplog.text
    client = app.test_client()
    for n, sid in enumerate(("CAhung1", "CAhung2")):
        started = time.monotonic()
        resp = client.post(f"/voice/{FLOW}", data={"CallSid": sid, "From": "+15550001111"})
        assert resp.status_code == 200 and b"<Gather" in resp.data, n
        assert time.monotonic() - started < 0.5      # never waits on the archive
    login(client)
    page = client.get("/ops/inbox")
    assert page.status_code == 503
    assert b"The call archive is unavailable: cannot reach the archive database" in page.data
    assert client.get("/ops/calls").status_code == 200   # Redis pages are unaffected
