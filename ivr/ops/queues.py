"""Live calls, filtered and sorted, and the queue view (``/ops/calls/queues``, routed
in :mod:`ivr.ops.live`).

Both read the live-call index (:mod:`ivr.store.live`), never a SCAN. The queue view is,
per flow and where its person is (``enqueue: <queue>`` or a Dial): calls waiting, calls
connected, the longest wait, and callbacks promised (lately ended calls whose outcome is
``callback``, and the archive's pending callbacks of that flow when it answers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import g
from sqlalchemy.exc import SQLAlchemyError

from ivr.jobs.archive import ArchiveError
from ivr.ops import agent, roles, times
from ivr.ops import story as st
from ivr.runtime.callcode import short_code
from ivr.server.context import flows

log = logging.getLogger(__name__)
SORTS = {"longest": "longest running", "newest": "newest first", "idle": "idle longest"}


def filtered(rows: list[dict[str, Any]], args: Mapping[str, str]) -> list[dict[str, Any]]:
    """``rows`` of :func:`ivr.ops.live.live_calls` kept by ``flow`` and ``q`` (text in the
    state, its words, the outcome or the last input) and ordered by ``sort``."""
    flow, text = args.get("flow", ""), args.get("q", "").strip().lower()[:80]
    out = [r for r in rows if not flow or r["flow"] == flow]
    if text:
        out = [r for r in out if text in " ".join(
            [r["state"], st.title(r["state"]), r["outcome"], r["heard"], *r["path"]]).lower()]
    sort = args.get("sort", "longest")
    if sort == "newest":
        out.sort(key=lambda r: (r["ended"], r["seconds"]))
    elif sort == "idle":
        out.sort(key=lambda r: (r["ended"], -r["idle"]))
    else:
        out.sort(key=lambda r: (r["ended"], -r["seconds"]))
    for r in out:
        r["code"], r["where"] = short_code(r["sid"]), st.title(r["state"])
    return out


def stories_allowed() -> bool:
    """True when the user may open a call's story (role agent or above)."""
    return roles.allows(str(g.get("ops_role", "")), roles.AGENT)


def _pending_callbacks() -> dict[str, int] | None:
    try:
        items = agent.archive().callbacks(pending_only=True)
    except (ArchiveError, SQLAlchemyError) as exc:
        log.warning("queue view: archive unavailable: %s", exc)
        return None
    counts: dict[str, int] = {}
    for item in items:
        counts[str(item["flow"])] = counts.get(str(item["flow"]), 0) + 1
    return counts


def queue_rows(live_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per flow: its queue (or Dial), waiting, connected, longest wait, callbacks."""
    person = agent.person_calls()
    pending = _pending_callbacks()
    ids = sorted(flows().ids() | {r["flow"] for r in [*person, *live_rows]})  # no SCAN
    out = []
    for fid in ids:
        flow = agent.flow_of(fid)
        mine = [r for r in person if r["flow"] == fid]
        longest = max((r["waited"] for r in mine), default=0)
        promised = sum(r["ended"] and r["outcome"] == "callback" for r in live_rows
                       if r["flow"] == fid)
        human = flow.human if flow else None
        out.append({"flow": fid, "queue": f"queue {human.enqueue}" if human and human.enqueue
                    else "dial (no queue)" if human else "?",
                    "waiting": sum(r["status"] == "waiting" for r in mine),
                    "connected": sum(r["status"] == "connected" for r in mine),
                    "longest": longest, "longest_text": times.hms(longest) if mine else "–",
                    "promised_now": promised,
                    "pending": None if pending is None else pending.get(fid, 0)})
    return out
