"""inbox_said.seq: the order a call's captures were written, on every database.

(SQLite's ``rowid`` told it before; PostgreSQL has no such thing.) Existing SQLite rows
take their rowid, so captures said at the same moment keep their order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbox_said", sa.Column("seq", sa.Integer, nullable=False,
                                          server_default=sa.text("0")))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE inbox_said SET seq = rowid")


def downgrade() -> None:
    with op.batch_alter_table("inbox_said") as batch:
        batch.drop_column("seq")
