"""The archive's schema, through alembic: where a database is, upgrading it, and the
start-up rule.

The migrations ship inside the package (``ivr/store/db/migrations``) and run from here, so
nobody needs an ``alembic.ini``: ``ivr archive upgrade`` calls :func:`upgrade`, ``ivr
archive status`` prints :func:`status`.

The start-up rule (:func:`prepare`, used by the worker, the console and the CLI):

- at the head revision: go;
- SQLite (the embedded default): upgraded in place, so ``ivr serve`` stays one command;
  an archive written before migrations existed (no ``alembic_version``) is adopted by the
  baseline, which keeps every row;
- PostgreSQL with no tables at all: created (the first deploy needs no extra step);
- PostgreSQL behind (or with tables but no revision): refused, naming ``ivr archive
  upgrade`` — a schema change on a shared database is a deploy step (Heroku's
  ``release:``), not something the first worker to start does;
- a revision this ivr does not know (a newer ivr migrated it): refused.

Upgrades hold a lock (PostgreSQL: an advisory lock; SQLite: a lock file next to the
database), so processes starting together migrate once.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.exc import OperationalError

from ivr.store.db.engine import ArchiveError, ArchiveUnreachable, shown
from ivr.store.db.tables import TABLES

if TYPE_CHECKING:  # alembic is imported only to migrate: a start at head needs none of it
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HEAD = "0004"
"""The newest migration: what this code needs (a test holds it to alembic's head)."""
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE = "ivr archive upgrade"
_LOCK_KEY = 0x697672_617263  # "ivr" "arc": the advisory lock of archive migrations
_OURS = {t.name for t in TABLES}
VERSIONS = "alembic_version"


@dataclass(frozen=True)
class Status:
    """Where one archive database is.

    Attributes:
        url: The database (password hidden).
        dialect: ``postgresql`` or ``sqlite``.
        current: Its revision(s) (empty: never migrated).
        head: The revision this ivr needs.
        tables: The archive tables it has.
    """

    url: str
    dialect: str
    current: tuple[str, ...]
    head: str
    tables: frozenset[str] = field(default_factory=frozenset)

    @property
    def ready(self) -> bool:
        return self.current == (self.head,)

    @property
    def empty(self) -> bool:
        """No archive table and no revision: a new database."""
        return not self.current and not self.tables

    @property
    def unknown(self) -> tuple[str, ...]:
        """Revisions this ivr has no migration for (a newer ivr wrote them)."""
        known = {s.revision for s in scripts().walk_revisions()}
        return tuple(r for r in self.current if r not in known)


def config() -> Config:
    """alembic's Config, pointing into the package (no alembic.ini)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "r%%(rev)s_%%(slug)s")  # an importable module name
    return cfg


def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config())


def head() -> str:
    """The revision this ivr's code needs."""
    return HEAD


def status(engine: Engine) -> Status:
    """The database's revision and archive tables.

    Raises:
        ArchiveUnreachable: The database cannot be reached (naming ``archive_url``).
    """
    with _connected(engine) as conn:
        names = set(inspect(conn).get_table_names())
        current = sorted(str(v) for v in conn.scalars(
            text("SELECT version_num FROM alembic_version"))) if VERSIONS in names else []
    return Status(shown(engine.url), engine.dialect.name, tuple(current), HEAD,
                  frozenset(names & _OURS))


def upgrade(engine: Engine, revision: str = "head") -> Status:
    """Migrate the database to ``revision`` (adopting a pre-migration SQLite archive).

    Raises:
        ArchiveError: It cannot be reached, or a migration failed.
    """
    from alembic import command

    with _connected(engine) as conn, _locked(engine, conn):
        cfg = config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
    return status(engine)


def prepare(engine: Engine) -> Status:
    """Apply the start-up rule (module docstring): return a ready status or raise.

    Raises:
        ArchiveError: Unreachable, behind on PostgreSQL, or migrated by a newer ivr; the
            message says what to run.
    """
    st = status(engine)
    if st.ready:
        return st
    if st.unknown:
        raise ArchiveError(f"the archive database {st.url} is at revision "
                           f"{', '.join(st.unknown)}, which this ivr does not know (a newer "
                           f"ivr migrated it): run that version, or point archive_url "
                           "elsewhere", st.url)
    if st.dialect == "sqlite" or st.empty:
        return upgrade(engine)
    where = ", ".join(st.current) or "no revision (tables without alembic_version)"
    raise ArchiveError(f"the archive database {st.url} is not migrated: it is at {where}, "
                       f"this ivr needs {st.head}. Run `{UPGRADE}` (with the same "
                       "archive_url / DATABASE_URL) first, e.g. in the release phase", st.url)


@contextmanager
def _connected(engine: Engine) -> Iterator[Connection]:
    try:
        conn = engine.connect()
    except OperationalError as exc:
        url = shown(engine.url)
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise ArchiveUnreachable(f"cannot reach the archive database {url} (setting archive_url "
                           f"/ DATABASE_URL): {reason}", url) from exc
    with conn:
        yield conn


@contextmanager
def _locked(engine: Engine, conn: Connection) -> Iterator[None]:
    """One migration at a time, across processes."""
    if engine.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_lock(_LOCK_KEY)))
        conn.commit()
        try:
            yield
        finally:
            conn.rollback()
            conn.execute(select(func.pg_advisory_unlock(_LOCK_KEY)))
            conn.commit()
        return
    database = engine.url.database or "archive.db"
    with open(f"{database}.migrate-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
