"""The archive's tables, the one definition (migrations create them; the archive uses them).

Times are ISO 8601 text in UTC (``2026-11-20T19:00:00+00:00``): text order is time order
on every database. JSON values (paths, slots, transcript lines) are compact JSON text.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    false,
    text,
)

metadata = MetaData()


def _text(name: str, default: str | None = "") -> Column[str]:
    """A NOT NULL text column (with a server default unless ``default`` is None)."""
    if default is None:
        return Column(name, Text, nullable=False)
    return Column(name, Text, nullable=False, server_default=text(f"'{default}'"))


calls = Table(
    "calls", metadata,
    Column("sid", Text, primary_key=True),
    _text("flow", None), _text("version"), _text("caller"), _text("caller_key"),
    _text("outcome"), _text("reason"), _text("path", "[]"), _text("started"),
    _text("ended", None),
    Index("calls_by_caller", "caller_key", "ended"),
    Index("calls_by_flow_started", "flow", "started"),
)

turns = Table(
    "turns", metadata,
    _text("sid", None), Column("turn", Integer, nullable=False), _text("data", None),
    PrimaryKeyConstraint("sid", "turn"),
)

inbox = Table(
    "inbox", metadata,
    Column("sid", Text, primary_key=True),
    _text("flow", None), _text("version"), _text("state"), _text("path", "[]"),
    _text("said"), _text("caller"), _text("caller_key"), _text("at", None),
    Column("handled", Boolean, nullable=False, server_default=false()),
    _text("recording"), _text("menu_said"),
    Index("inbox_by_time", "at"),
)

inbox_said = Table(
    "inbox_said", metadata,
    _text("sid", None), _text("part", None), _text("said", None), _text("at", None),
    Column("seq", Integer, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("sid", "part"),
)
"""Every capture of a call's inbox item, keyed by the job that wrote it; ``seq`` is the
order they were written (per call)."""

callbacks = Table(
    "callbacks", metadata,
    Column("sid", Text, primary_key=True),
    _text("flow", None), _text("caller"), _text("caller_key"), _text("number"),
    _text("recording"), Column("duration", Integer, nullable=False, server_default=text("0")),
    _text("reason"), _text("slots", "{}"), _text("path", "[]"), _text("at", None),
    Column("done", Boolean, nullable=False, server_default=false()),
)

TABLES = (calls, turns, inbox, inbox_said, callbacks)
"""In the order a copy writes them."""
COUNTED = ("calls", "turns", "inbox", "callbacks")
