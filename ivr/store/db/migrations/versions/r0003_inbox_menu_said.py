"""inbox.menu_said: what the caller said at the menu that fell through to "other" ("I found
somebody's credit card on the sidewalk"), kept beside their answer to the capture prompt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("menu_said", sa.Text, nullable=False,
                                     server_default=sa.text("''")))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("menu_said")
