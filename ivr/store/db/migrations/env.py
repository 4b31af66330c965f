"""alembic's environment for the archive: run by :mod:`ivr.store.db.schema` on the
connection it passes (``config.attributes["connection"]``); there is no alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ivr.store.db.tables import metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("the archive's migrations run through `ivr archive upgrade`")
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run()
