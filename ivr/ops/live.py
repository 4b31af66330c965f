"""Console pages about calls: live calls (Redis), the "other" inbox and metrics (archive).

The archive pages read the archive database (:class:`ivr.jobs.archive.Archive`); when it
is down they answer 503 with the reason, and nothing else in the app waits on it: the
voice webhooks never read the archive.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError

from ivr.config import Settings
from ivr.flowlang.model import Flow
from ivr.jobs.archive import Archive, ArchiveError, ArchiveUnreachable
from ivr.ops import inbox as ib
from ivr.ops import inbox_groups, queues, roles, trend_charts, trends
from ivr.ops.inbox_draft import current_flow
from ivr.ops.metrics import OUTCOMES
from ivr.ops.recent import remember
from ivr.ops.times import hms
from ivr.runtime.events import CallState
from ivr.runtime.redact import mask_number
from ivr.server.context import get_store, settings
from ivr.store import live
from ivr.store.keys import CALL

log = logging.getLogger(__name__)
bp = Blueprint("live", __name__)
MAX_CALLS = 500
PERIODS = {"24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days", "all": "all time"}


def live_calls(limit: int = MAX_CALLS, with_ended: bool = True) -> list[dict[str, Any]]:
    """Calls in the live-call index (:mod:`ivr.store.live`: per-bucket sorted sets, never
    a SCAN), longest-running first; entries whose call expired are dropped from it."""
    conn = get_store().conn
    now = datetime.now(UTC)
    sids = live.members(conn, with_ended, limit)
    began = live.starts(conn, sids)
    rows, gone = [], []
    for sid, (raw, ttl) in zip(sids, call_states(conn, sids), strict=True):
        if raw:
            rows.append(_row(CallState.from_dict(json.loads(raw)), int(ttl), now,
                             began.get(sid)))
        elif raw is None:
            gone.append(sid)
    live.forget(conn, gone)
    return sorted(rows, key=lambda r: (r["ended"], -r["seconds"]))[:limit]


def call_states(conn: Any, sids: list[str]) -> list[tuple[Any, Any]]:
    """(state JSON, TTL) of each call; ("", -2) for one on a node that does not answer."""
    pipe = conn.pipeline(transaction=False)
    for sid in sids:
        pipe.hget(CALL.format(sid), "state")
        pipe.ttl(CALL.format(sid))
    try:
        got = pipe.execute()
    except (redis.ConnectionError, redis.TimeoutError):  # one node down: ask one by one
        return [_one_state(conn, sid) for sid in sids]
    return list(zip(got[::2], got[1::2], strict=True))


def _one_state(conn: Any, sid: str) -> tuple[Any, Any]:
    try:
        return conn.hget(CALL.format(sid), "state"), conn.ttl(CALL.format(sid))
    except (redis.ConnectionError, redis.TimeoutError):
        return "", -2


def _row(c: CallState, ttl: int, now: datetime, began: float | None = None) -> dict[str, Any]:
    """A call's row; its duration on the wall clock (``began``: the live index's start,
    :func:`ivr.store.live.starts`), never the fixed ``clock`` of a test or demo."""
    started = datetime.fromtimestamp(began, UTC) if began else \
        datetime.fromisoformat(c.started) if c.started else None
    # no wall-clock start (an ended call) under a fixed clock: the flow's clock cannot
    # measure it (it would read days), so no duration rather than a wrong one
    known = started is not None and (began is not None or not settings().clock)
    seconds = int((now - started).total_seconds()) if known and started else 0
    idle = max(0, get_store().ttl - ttl) if ttl > 0 else 0
    return {"sid": c.sid, "flow": c.flow, "version": c.version, "state": c.state,
            "turn": c.turn, "started": started.isoformat() if started else "",
            "seconds": seconds, "idle": idle,
            "duration": hms(seconds) if known else "—", "caller": mask_number(c.caller),
            "outcome": c.outcome, "ended": c.ended,
            "path": c.path[-5:], "heard": c.heard}


@bp.route("/calls")
@roles.needs(roles.VIEWER)
def calls() -> str:
    """Calls in progress (and lately ended ones), filtered by flow and state text, sorted
    by ``sort`` (:func:`ivr.ops.queues.filtered`); each row links to the call's story."""
    show_ended = request.args.get("ended") == "1"
    rows = live_calls()
    active = [r for r in rows if not r["ended"]]
    shown = queues.filtered(rows if show_ended else active, request.args)
    return render_template("ops/calls.html", nav="calls", active=len(active),
                           calls=shown, show_ended=show_ended, total=len(rows),
                           flows=sorted({r["flow"] for r in rows}), sorts=queues.SORTS,
                           args=request.args, stories=queues.stories_allowed())


@bp.route("/calls/queues")
@roles.needs(roles.VIEWER)
def queue_view() -> str:
    """Per flow: who waits for a person, for how long, and callbacks promised."""
    rows = queues.queue_rows(live_calls())
    return render_template("ops/queues.html", nav="calls", queues=rows,
                           waiting=sum(q["waiting"] for q in rows))


def init_app(app: Flask, s: Settings) -> None:
    """Check the archive at start: one that is not migrated (or was migrated by a newer
    ivr) stops the start with the command to run; one that cannot be reached is logged
    and the app starts anyway, because calls do not need it (its pages answer 503)."""
    try:
        Archive.from_settings(s)
    except ArchiveUnreachable as exc:
        log.error("ops console: %s; the inbox and metrics pages are unavailable until it "
                  "answers (calls are not affected)", exc)


def archive() -> Archive:
    """The call archive named by the settings (``archive_url``, else ``archive_path``)."""
    return Archive.from_settings(settings())


@bp.errorhandler(ArchiveError)
@bp.errorhandler(OperationalError)
def _archive_down(exc: Exception) -> tuple[str, int]:
    log.warning("ops console: archive unavailable: %s", exc)
    reason = str(exc) if isinstance(exc, ArchiveError) else \
        "the archive database did not answer (archive_url); try again shortly"
    return render_template("ops/error.html", code=503,
                           message=f"The call archive is unavailable: {reason}"), 503


@bp.route("/inbox")
@roles.needs(roles.VIEWER)
def inbox() -> str:
    """Other-captures, newest first, and the top groups of what callers said (by meaning
    when the model is there), each with a suggested edit (:mod:`ivr.ops.inbox_groups`)."""
    flow = request.args.get("flow", "") or None
    period = request.args.get("since", "7d")
    since = None if period == "all" else ib.parse_since(period if period in PERIODS else "7d")
    show_handled = request.args.get("handled") == "1"
    items = archive().inbox(since, flow)
    groups, note = inbox_groups.grouped([i for i in items if not i["handled"]], current_flow)
    shown = items if show_handled else [i for i in items if not i["handled"]]
    return render_template("ops/inbox.html", nav="inbox", items=shown[:300],
                           groups=[g.row() for g in groups], grouping_note=note,
                           flow=flow or "", since=period, periods=PERIODS,
                           show_handled=show_handled, open_count=sum(not i["handled"]
                                                                     for i in items),
                           flows=sorted({i["flow"] for i in items}))


@bp.route("/inbox/<sid>/handled", methods=["POST"])
@roles.needs(roles.OPS)
def handled(sid: str) -> Any:
    done = request.form.get("handled", "1") == "1"
    if not archive().mark_handled(sid[:64], done):
        abort(404, "no such inbox item")
    flash("Marked as handled." if done else "Marked as open again.", "ok")
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/ops/") and "//" not in back
                    else url_for("ops.live.inbox"))


def _flows() -> dict[str, Flow | None]:
    from ivr.ops.flows import checked_version, flow_ids

    store = get_store()
    out: dict[str, Flow | None] = {}
    for fid in flow_ids(store):
        version = store.current(fid)
        checked = checked_version(store, fid, version) if version else None
        out[fid] = checked.flow if checked else None
    return out


def _version(flow: Flow | None) -> str:
    return flow.version if flow else ""


@bp.route("/metrics")
@roles.needs(roles.VIEWER)
def metrics() -> str:
    """Per flow over a period: KPIs, charts per hour or day in the flow's time zone, the
    funnel, drop-offs and zero-outs per state (:mod:`ivr.ops.trends`)."""
    period = request.args.get("since", "7d")
    period = period if period in PERIODS else "7d"
    flows, store = _flows(), archive()
    ids = sorted(set(flows) | set(trends.flows_in(store)))
    panels = [remember(("metrics", fid, _version(flows.get(fid)), period),
                       lambda fid=fid: trend_charts.panel(  # type: ignore[misc]
                           trends.trend(store, fid, flows.get(fid), period)))
              for fid in ids]
    panels.sort(key=lambda p: (-p.trend.totals.calls, p.trend.flow))
    return render_template("ops/metrics.html", nav="metrics", panels=panels, since=period,
                           periods=PERIODS, outcomes=OUTCOMES)
