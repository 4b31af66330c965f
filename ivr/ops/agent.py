"""The agent's pages: calls waiting for or connected to a person, and each call's story.

- ``/ops/agent``: every call in progress whose engine state is the person's (a Dial being
  rung or answered, waiting in the queue, choosing a callback in the queue), read from the
  live-call index (never a SCAN): short code, flow, masked caller, language, reason, time
  waited, waiting/connected. The list refreshes itself every 2 s (``data-refresh``).
- ``/ops/agent/call/<code or CallSid>``: the call's story (:mod:`ivr.ops.story`), live
  while the call lasts (``agent.js`` polls ``…/story.json`` every 2 s); an ended call
  reads the archive's turns; a code two live calls share lists both to pick from; an
  unknown or expired call is a 404 "no such call" page.

Role ``agent`` (a viewer gets 403): these pages hold what callers said.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from ivr.flowlang.model import Flow
from ivr.jobs.archive import Archive, ArchiveError
from ivr.jobs.archive_agent import caller_calls, caller_key
from ivr.ops import roles, times
from ivr.ops import story as st
from ivr.runtime.callcode import is_code, short_code
from ivr.runtime.events import CallState
from ivr.runtime.redact import redact_text
from ivr.server.context import get_store, settings
from ivr.store import live
from ivr.store.keys import ANSWERED, CALL, TRANSCRIPT
from ivr.telephony.params import is_sid

log = logging.getLogger(__name__)
bp = Blueprint("agent", __name__, url_prefix="/agent")
MAX_LIVE = 500
EARLIER = 20
TAIL = 40
"""Transcript lines read per call for the list's time waited (the newest ones)."""


def now() -> datetime:
    """The app's clock (the fixed ``clock`` in tests), as the call's turns were stamped."""
    return settings().now() or datetime.now(UTC)


def flow_of(flow_id: str, version: str = "") -> Flow | None:
    """The checked flow of a call's version (else the current one; None when gone),
    looked up once per request."""
    seen: dict[tuple[str, str], Flow | None] = g.setdefault("ivr_agent_flows", {})
    if (flow_id, version) not in seen:
        seen[(flow_id, version)] = _flow_of(flow_id, version)
    return seen[(flow_id, version)]


def _flow_of(flow_id: str, version: str) -> Flow | None:
    from ivr.ops.flows import checked_version

    store = get_store()
    checked = checked_version(store, flow_id, version) if version else None
    if checked is None or checked.flow is None:
        current = store.current(flow_id)
        checked = checked_version(store, flow_id, current) if current else None
    return checked.flow if checked else None


def person_calls() -> list[dict[str, Any]]:
    """Calls with a person now, longest waiting first."""
    conn = get_store().conn
    sids = live.members(conn, False, MAX_LIVE)
    pipe = conn.pipeline(transaction=False)
    for sid in sids:
        pipe.hget(CALL.format(sid), "state")
        pipe.exists(ANSWERED.format(sid))
    got = pipe.execute()
    calls = [(CallState.from_dict(json.loads(raw)), bool(ans))
             for raw, ans in zip(got[::2], got[1::2], strict=True) if raw]
    calls = [(c, a) for c, a in calls if not c.ended and c.state in st.PERSON_STATES]
    pipe = conn.pipeline(transaction=False)
    for c, _ in calls:
        pipe.lrange(TRANSCRIPT.format(c.sid), -TAIL, -1)
    tails = pipe.execute() if calls else []
    at = now()
    rows = [st.row(c, flow_of(c.flow, c.version), [json.loads(x) for x in tail], a, at)
            for (c, a), tail in zip(calls, tails, strict=True)]
    return sorted(rows, key=lambda r: -r["waited"])


def resolve(ref: str) -> list[str]:
    """The CallSids ``ref`` names: a CallSid, or a short code (every live or lately ended
    call with that code: four digits can collide)."""
    ref = ref.strip()[:64]
    if is_code(ref):
        return [s for s in live.members(get_store().conn, True, MAX_LIVE)
                if short_code(s) == ref]
    return [ref] if is_sid(ref) else []


def archive() -> Archive:
    return Archive.from_settings(settings())


def archived(sid: str) -> dict[str, Any] | None:
    """The archived call with its turns; None when absent or the archive is down."""
    try:
        return archive().call(sid)
    except (ArchiveError, SQLAlchemyError) as exc:
        log.warning("agent page: archive unavailable: %s", exc)
        return None


def earlier(key: str, sid: str, tz: Any) -> list[dict[str, Any]] | None:
    """The caller's other archived calls, newest first (None: the archive is down)."""
    if not key:
        return []
    try:
        rows = caller_calls(archive(), key, EARLIER, exclude=sid)
    except (ArchiveError, SQLAlchemyError) as exc:
        log.warning("agent page: archive unavailable: %s", exc)
        return None
    return [past(r, tz) for r in rows]


def past(r: dict[str, Any], tz: Any = None) -> dict[str, Any]:
    """An archived call in words (for a story's earlier calls and the caller timeline)."""
    flow = flow_of(str(r["flow"]))
    zone = tz or times.zone_of(flow)
    path = [p for p in r.get("path") or [] if p]
    return {"sid": r["sid"], "flow": r["flow"], "when": st.when(str(r.get("ended") or
                                                                    r.get("started")), zone, True),
            "outcome": r.get("outcome") or "", "reason": redact_text(str(r.get("reason") or "")),
            "path": [st.title(p) for p in path], "said": redact_text(str(r.get("said") or "")),
            "menu_said": redact_text(str(r.get("menu_said") or "")),
            "callback": r.get("callback"),
            "url": url_for("ops.agent.call", ref=r["sid"])}


def story(sid: str) -> dict[str, Any] | None:
    """Everything the story page shows of call ``sid`` (None: no such call)."""
    store = get_store()
    call = store.load(sid)
    if call is None:
        return _from_archive(sid)
    flow = flow_of(call.flow, call.version)
    records, source = store.transcript(sid), "live"
    if call.ended:
        saved = archived(sid)
        if saved and saved["turns"]:
            records, source = saved["turns"], "archive"
    answered = bool(store.conn.exists(ANSWERED.format(sid)))
    tz = times.zone_of(flow)
    out = st.row(call, flow, records, answered, now())
    key = caller_key(call.caller, settings().caller_key_secret)
    out.update(_details(call, flow, records, tz), source=source,
               earlier=earlier(key, sid, tz))
    return out


def _details(call: CallState, flow: Flow | None, records: list[Any], tz: Any) -> dict[str, Any]:
    said = redact_text(call.reason)
    menu = redact_text(call.fell_through)
    return {"steps": st.steps(flow, records, tz), "slots": st.slots(flow, call.slots),
            "own_words": said, "menu_said": menu if menu != said else "",
            "started": st.when(call.started, tz, True), "zone": _zone_name(tz),
            "history": redact_text(call.history), "turns": call.turn}


def _zone_name(tz: Any) -> str:
    return str(getattr(tz, "key", "UTC"))


def _from_archive(sid: str) -> dict[str, Any] | None:
    saved = archived(sid)
    if saved is None:
        return None
    call = CallState(sid, str(saved["flow"]), str(saved.get("version") or ""),
                     caller=str(saved.get("caller") or ""), ended=True,
                     outcome=str(saved.get("outcome") or ""),
                     reason=str(saved.get("reason") or ""), started=str(saved["started"]),
                     path=list(saved.get("path") or []))
    flow = flow_of(call.flow, call.version)
    tz = times.zone_of(flow)
    out = st.row(call, flow, saved["turns"], False, now())
    out.update(_details(call, flow, saved["turns"], tz), source="archive",
               earlier=earlier(str(saved.get("caller_key") or ""), sid, tz))
    return out


@bp.route("")
@roles.needs(roles.AGENT)
def index() -> str:
    """Calls waiting for or connected to a person."""
    rows = person_calls()
    return render_template("ops/agent.html", nav="agent", calls=rows,
                           waiting=sum(r["status"] == "waiting" for r in rows))


@bp.route("/find")
@roles.needs(roles.AGENT)
def find() -> Any:
    """The code box of the agent list: to the call's page."""
    code = "".join(ch for ch in request.args.get("code", "") if ch.isalnum())[:64]
    return redirect(url_for("ops.agent.call", ref=code or "-"))


def _no_call(ref: str) -> tuple[str, int]:
    return render_template("ops/agent_none.html", nav="agent", ref=ref[:64]), 404


@bp.route("/call/<ref>")
@roles.needs(roles.AGENT)
def call(ref: str) -> Any:
    """A call's story (by CallSid or short code); "no such call" (404) when unknown."""
    sids = resolve(ref)
    if len(sids) > 1:  # a shared code: pick by flow and masked caller
        rows = [r for r in (story(s) for s in sids) if r]
        return render_template("ops/agent_pick.html", nav="agent", code=ref, calls=rows)
    data = story(sids[0]) if sids else None
    if data is None:
        return _no_call(ref)
    return render_template("ops/agent_call.html", nav="agent", c=data,
                           poll=url_for("ops.agent.story_json", ref=sids[0]))


@bp.route("/call/<ref>/story.json")
@roles.needs(roles.AGENT)
def story_json(ref: str) -> Any:
    """The story as JSON, for the page's live updates (404 ``no such call``)."""
    sids = resolve(ref)
    data = story(sids[0]) if len(sids) == 1 else None
    if data is None:  # JSON whatever the Accept header: agent.js reads it
        return {"error": "no such call" if len(sids) < 2 else "a code several calls share: "
                         "use the CallSid"}, 404
    return data
