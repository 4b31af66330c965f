"""Reads of the call archive for the agent pages: one caller's calls, with what they said
and the callbacks they were promised (beside :mod:`ivr.jobs.archive`, which writes).

A caller is found by ``caller_key`` (the keyed hash of the number, :func:`ivr.runtime.
redact.number_key`), on the ``calls_by_caller`` index: the number itself is never stored,
so it is never queried either. Callback numbers come back masked: the agent pages show no
number in clear.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from ivr.jobs.archive import Archive
from ivr.runtime.redact import mask_number, number_key
from ivr.store.db import tables as T

MAX_CALLS = 200


def caller_key(number: str, secret: str) -> str:
    """The archive's key of an E.164 ``number`` (``caller_key_secret``; '' when there is no
    number, a masked one or no secret)."""
    if not number or "*" in number or not secret:
        return ""
    return number_key(number, secret)


def caller_calls(archive: Archive, key: str, limit: int = MAX_CALLS,
                 exclude: str = "") -> list[dict[str, Any]]:
    """Every archived call of the caller with ``key``, newest first (at most ``limit``).

    Each: sid, flow, version, outcome, reason, path (state list), started, ended, ``said``
    (the inbox item's captures, '' when none), ``menu_said``, and ``callback`` (None, or
    ``{"number": masked, "done": bool, "at", "recording": bool}``).
    """
    if not key:
        return []
    c, i, b = T.calls.c, T.inbox.c, T.callbacks.c
    query = (select(c.sid, c.flow, c.version, c.outcome, c.reason, c.path, c.started,
                    c.ended, func.coalesce(i.said, "").label("said"),
                    func.coalesce(i.menu_said, "").label("menu_said"),
                    b.number.label("cb_number"), b.done.label("cb_done"),
                    b.at.label("cb_at"), b.recording.label("cb_recording"))
             .select_from(T.calls.outerjoin(T.inbox, i.sid == c.sid)
                          .outerjoin(T.callbacks, b.sid == c.sid))
             .where(c.caller_key == key, c.sid != exclude)
             .order_by(c.ended.desc(), c.sid).limit(limit))
    with archive.engine.connect() as db:
        return [_call(dict(r)) for r in db.execute(query).mappings()]


def _call(row: dict[str, Any]) -> dict[str, Any]:
    number = row.pop("cb_number")
    done, at, recording = row.pop("cb_done"), row.pop("cb_at"), row.pop("cb_recording")
    row["path"] = json.loads(row["path"]) if isinstance(row["path"], str) else row["path"]
    row["callback"] = None if number is None else {
        "number": mask_number(str(number)), "done": bool(done), "at": str(at or ""),
        "recording": bool(recording)}
    return row
