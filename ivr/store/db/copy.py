"""``ivr archive migrate --to URL``: copy one archive into another (SQLite → PostgreSQL).

Every table, in batches, with ``INSERT … ON CONFLICT DO NOTHING`` on its primary key: a
row already in the target (copied before, or written there since the switch) is kept as
it is, so a second run copies nothing new and a run cut short can simply be run again.
Rows are copied as stored: they were redacted on the way into the source.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, func, select

from ivr.store.db import schema
from ivr.store.db.engine import ArchiveError, insert_for, shown
from ivr.store.db.tables import TABLES

BATCH = 1000


def copy_archive(source: Engine, target: Engine, batch: int = BATCH,
                 progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every row of ``source`` that ``target`` lacks; both are brought to head first
    (the source by the start-up rule, the target by an upgrade).

    Returns:
        New rows per table (0 everywhere on a second run).

    Raises:
        ArchiveError: The same database twice, or one cannot be reached or migrated.
    """
    if shown(source.url) == shown(target.url):
        raise ArchiveError(f"--to {shown(target.url)} is the archive being copied: name "
                           "another database")
    schema.prepare(source)
    schema.upgrade(target)
    added: dict[str, int] = {}
    with source.connect() as src, target.connect() as dst:
        for table in TABLES:
            before = int(dst.scalar(select(func.count()).select_from(table)) or 0)
            keys = [c.name for c in table.primary_key.columns]
            rows = src.execution_options(stream_results=True, yield_per=batch).execute(
                select(table).order_by(*table.primary_key.columns))
            statement = insert_for(dst, table).on_conflict_do_nothing(index_elements=keys)
            for chunk in rows.mappings().partitions(batch):
                dst.execute(statement, [dict(r) for r in chunk])
                dst.commit()
                if progress:
                    progress(table.name, len(chunk))
            after = int(dst.scalar(select(func.count()).select_from(table)) or 0)
            added[table.name] = after - before
    return added
