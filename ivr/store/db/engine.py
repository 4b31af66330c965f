"""Which database the archive is, and one SQLAlchemy engine per database per process.

``archive_url`` names it (``postgresql://…``; Heroku's ``DATABASE_URL`` with its
``postgres://`` spelling works; ``sqlite:///path``); when empty, the SQLite file
``archive_path`` (created with its directory). PostgreSQL goes through ``psycopg`` 3 with
a connect timeout and a statement timeout of ``archive_timeout`` seconds, so a down or slow
database fails the job that needs it (RQ retries it) instead of holding it. SQLite runs in
WAL mode so workers and readers do not block each other.

Engines are cached per (URL, timeout); a forked process (an RQ work horse) drops the
connections it inherited and opens its own (SQLAlchemy's ``dispose(close=False)``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError

from ivr.config import ARCHIVE_PATH, Settings, masked_url

SQLITE_BUSY_SECONDS = 30
_engines: dict[tuple[str, float], Engine] = {}
_lock = threading.Lock()


class ArchiveError(RuntimeError):
    """The archive database cannot be used; the message names the setting and the fix.

    Args:
        message: What is wrong and what to do, e.g. "... run `ivr archive upgrade`".
        url: The database, password masked.
    """

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class ArchiveUnreachable(ArchiveError):
    """The archive database did not answer (down, wrong host, too slow to connect)."""


def target_of(settings: Settings) -> str:
    """The archive the settings name: ``archive_url``, else the file ``archive_path``."""
    return settings.archive_url or settings.archive_path or ARCHIVE_PATH


def database_url(target: str | Path) -> URL:
    """A SQLAlchemy URL for an ``archive_url`` or a SQLite file path.

    ``postgres://`` and ``postgresql://`` become ``postgresql+psycopg://``.

    Raises:
        ArchiveError: Neither PostgreSQL nor SQLite, or not a URL.
    """
    text = str(target)
    if "://" not in text:
        return URL.create("sqlite", database=text)
    try:
        url = make_url(text)
    except ArgumentError:
        raise _bad(text) from None
    name = url.drivername
    if name in ("postgres", "postgresql", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if name == "sqlite" and url.database not in (None, "", ":memory:"):
        return url
    raise _bad(text)


def _bad(text: str) -> ArchiveError:
    return ArchiveError(f"archive_url {masked_url(text)!r} is not a PostgreSQL or SQLite "
                        "database URL: use postgresql://user:password@host:5432/ivr "
                        "(DATABASE_URL), or sqlite:///path/archive.db, or leave archive_url "
                        "empty for the file archive_path", masked_url(text))


def shown(url: URL) -> str:
    """The URL for messages: password hidden."""
    return url.render_as_string(hide_password=True)


def engine_for(target: str | Path, timeout: float = 10.0) -> Engine:
    """The process's engine for ``target`` (a URL or a SQLite path), created once.

    Raises:
        ArchiveError: ``target`` is not a database URL we take.
    """
    url = database_url(target)
    key = (url.render_as_string(hide_password=False), float(timeout))
    with _lock:
        found = _engines.get(key)
        if found is None:
            found = _engines[key] = _create(url, timeout)
        return found


def _create(url: URL, timeout: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    millis = int(timeout * 1000)
    args: dict[str, Any] = {
        "connect_timeout": max(2, round(timeout)),  # libpq: whole seconds, at least 2
        "options": f"-c statement_timeout={millis} -c lock_timeout={millis}",
        "application_name": "ivr"}
    return create_engine(url, connect_args=args, pool_pre_ping=True, pool_size=5,
                         max_overflow=5, pool_timeout=timeout)


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


def insert_for(db: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, the one with ``ON CONFLICT`` (PostgreSQL and SQLite)."""
    if db.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def dispose_all() -> None:
    """Close every cached engine's connections (tests, and before a database goes away)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


def _after_fork() -> None:
    for engine in list(_engines.values()):
        engine.dispose(close=False)  # the parent's connections stay the parent's


os.register_at_fork(after_in_child=_after_fork)
