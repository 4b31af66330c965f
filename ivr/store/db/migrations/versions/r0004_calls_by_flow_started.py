"""calls_by_flow_started: an index on calls(flow, started), for the console's metrics over
time and the numbers on the flow graph (one flow, one period: a range scan, not the whole
table).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("calls_by_flow_started", "calls", ["flow", "started"])


def downgrade() -> None:
    op.drop_index("calls_by_flow_started", table_name="calls")
