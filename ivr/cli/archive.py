"""``ivr archive``: the call archive's database — status, upgrade (alembic migrations),
and migrate (copy an archive, e.g. the SQLite file, into PostgreSQL)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ivr.cli.base import ARCHIVE, CliContext, job_settings, main, pass_cli_context

if TYPE_CHECKING:
    from sqlalchemy import Engine


@main.group(name="archive")
def archive_group() -> None:
    """The call archive's database: status, upgrade, migrate (SQLite → PostgreSQL)."""


def _engine(ctx: CliContext, archive: str | None) -> Engine:
    from ivr.store.db.engine import ArchiveError, engine_for, target_of

    settings = job_settings(ctx, archive_path=archive)
    try:
        return engine_for(target_of(settings), settings.archive_timeout)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc


@archive_group.command(name="status")
@ARCHIVE
@pass_cli_context
def status_cmd(ctx: CliContext, archive_path: str | None) -> None:
    """Where the archive database is (revision, rows); exit 1 unless it is at head."""
    from ivr.store.db import schema
    from ivr.store.db.engine import ArchiveError

    engine = _engine(ctx, archive_path)
    try:
        st = schema.status(engine)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"archive: {st.url} ({st.dialect})")
    click.echo(f"revision: {', '.join(st.current) or 'none'} (this ivr needs {st.head})")
    if st.ready:
        from ivr.jobs.archive import Archive

        settings = job_settings(ctx, archive_path=archive_path)
        counts = Archive.from_settings(settings).counts()
        click.echo("rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return
    fix = ("created by the first `ivr serve` / worker, or `ivr archive upgrade`"
           if st.dialect == "sqlite" or st.empty else "run `ivr archive upgrade`")
    click.echo(f"not at head: {fix}", err=True)
    sys.exit(1)


@archive_group.command(name="upgrade")
@ARCHIVE
@pass_cli_context
def upgrade_cmd(ctx: CliContext, archive_path: str | None) -> None:
    """Migrate the archive database to this ivr's schema (idempotent; a deploy step).

    An archive written before migrations existed is adopted with every row kept."""
    from ivr.store.db import schema
    from ivr.store.db.engine import ArchiveError

    engine = _engine(ctx, archive_path)
    try:
        before = schema.status(engine)
        after = schema.upgrade(engine)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    was = ", ".join(before.current) or "none"
    click.echo(f"archive {after.url}: revision {was} -> {', '.join(after.current)}"
               + (" (already at head)" if before.ready else ""))


@archive_group.command(name="migrate")
@click.option("--to", "to_url", required=True, metavar="URL",
              help="The database to copy into, e.g. postgresql://user:pass@host/ivr.")
@ARCHIVE
@pass_cli_context
def migrate_cmd(ctx: CliContext, to_url: str, archive_path: str | None) -> None:
    """Copy the archive (--archive, else the settings' one: usually the SQLite file) into
    the database --to, migrating it first. Rows already there are kept; running it again
    copies nothing new."""
    from ivr.store.db.copy import copy_archive
    from ivr.store.db.engine import ArchiveError, engine_for

    source = _engine(ctx, archive_path)
    settings = job_settings(ctx, archive_path=archive_path)
    try:
        target = engine_for(to_url, settings.archive_timeout)
        added = copy_archive(source, target)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"copied into {target.url.render_as_string(hide_password=True)}: "
               + ", ".join(f"{k} {v} new" for k, v in added.items()))
