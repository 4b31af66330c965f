"""Baseline: the archive as the SQLite-only ivr wrote it (calls, turns, inbox, inbox_said,
callbacks).

Adopts such an archive in place: a table that exists is kept with its rows, and the two
upgrades that code made on open are made here (``inbox.recording``; ``inbox_said`` seeded
from ``inbox.said`` so what was said stays said).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LEGACY = {
    "calls": {"sid", "flow", "version", "caller", "caller_key", "outcome", "reason", "path",
              "started", "ended"},
    "turns": {"sid", "turn", "data"},
    "inbox": {"sid", "flow", "version", "state", "path", "said", "caller", "caller_key", "at",
              "handled"},
    "inbox_said": {"sid", "part", "said", "at"},
    "callbacks": {"sid", "flow", "caller", "caller_key", "number", "recording", "duration",
                  "reason", "slots", "path", "at", "done"},
}


def _text(name: str, default: str | None = "") -> sa.Column[str]:
    if default is None:
        return sa.Column(name, sa.Text, nullable=False)
    return sa.Column(name, sa.Text, nullable=False, server_default=sa.text(f"'{default}'"))


def _create(name: str) -> None:
    if name == "calls":
        op.create_table("calls", sa.Column("sid", sa.Text, primary_key=True),
                        _text("flow", None), _text("version"), _text("caller"),
                        _text("caller_key"), _text("outcome"), _text("reason"),
                        _text("path", "[]"), _text("started"), _text("ended", None))
        op.create_index("calls_by_caller", "calls", ["caller_key", "ended"])
    elif name == "turns":
        op.create_table("turns", _text("sid", None),
                        sa.Column("turn", sa.Integer, nullable=False), _text("data", None),
                        sa.PrimaryKeyConstraint("sid", "turn"))
    elif name == "inbox":
        op.create_table("inbox", sa.Column("sid", sa.Text, primary_key=True),
                        _text("flow", None), _text("version"), _text("state"),
                        _text("path", "[]"), _text("said"), _text("caller"),
                        _text("caller_key"), _text("at", None),
                        sa.Column("handled", sa.Boolean, nullable=False,
                                  server_default=sa.false()),
                        _text("recording"))
        op.create_index("inbox_by_time", "inbox", ["at"])
    elif name == "inbox_said":
        op.create_table("inbox_said", _text("sid", None), _text("part", None),
                        _text("said", None), _text("at", None),
                        sa.PrimaryKeyConstraint("sid", "part"))
    else:
        op.create_table("callbacks", sa.Column("sid", sa.Text, primary_key=True),
                        _text("flow", None), _text("caller"), _text("caller_key"),
                        _text("number"), _text("recording"),
                        sa.Column("duration", sa.Integer, nullable=False,
                                  server_default=sa.text("0")),
                        _text("reason"), _text("slots", "{}"), _text("path", "[]"),
                        _text("at", None),
                        sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    have = set(inspector.get_table_names())
    for name, needed in LEGACY.items():
        if name in have:
            columns = {c["name"] for c in inspector.get_columns(name)}
            missing = needed - columns
            if missing:
                raise RuntimeError(f"table {name!r} is not an ivr archive table (it has no "
                                   f"{', '.join(sorted(missing))}): use an empty database")
    for name in LEGACY:
        if name not in have:
            _create(name)
    if "inbox" in have:
        if "recording" not in {c["name"] for c in inspector.get_columns("inbox")}:
            op.add_column("inbox", _text("recording"))
        if "inbox_said" not in have:  # archives from before inbox_said keep their words
            op.execute("INSERT INTO inbox_said (sid, part, said, at) "
                       "SELECT sid, 'earlier', said, at FROM inbox WHERE said != ''")


def downgrade() -> None:
    for name in reversed(list(LEGACY)):
        op.drop_table(name)
