"""The caller timeline (``/ops/callers``): every archived call of one caller, newest first.

The agent types the number in any format; it is read with ``phonenumbers`` into E.164
(what Twilio sends in ``From``, in the region ``US`` unless it starts with ``+``/``00``)
and hashed with the archive's key (:func:`ivr.jobs.archive_agent.caller_key`, the
``caller_key`` column). The number is then forgotten: the search is a POST, the page it
redirects to carries only ``?key=<hash>``, and nothing logs it. Role ``agent``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError

from ivr.flowlang.phone import normalised
from ivr.jobs.archive import ArchiveError
from ivr.jobs.archive_agent import caller_calls, caller_key
from ivr.ops import agent, roles
from ivr.ops import story as st
from ivr.ops.live import _archive_down, call_states
from ivr.runtime.callcode import short_code
from ivr.runtime.events import CallState
from ivr.server.context import get_store, settings
from ivr.store import live

bp = Blueprint("callers", __name__, url_prefix="/callers")
bp.register_error_handler(ArchiveError, _archive_down)  # 503 with the reason
bp.register_error_handler(OperationalError, _archive_down)
KEY_CHARS = 32


@bp.route("", methods=["GET", "POST"])
@roles.needs(roles.AGENT)
def timeline() -> Any:
    """The search box (POST the number), and the calls of ``?key=``."""
    if request.method == "POST":
        number = normalised(request.form.get("number", ""))
        if not number:
            flash("That is not a phone number: type it with its area code, e.g. "
                  "(212) 555-1234 or +44 20 7946 0000.", "warn")
            return redirect(url_for("ops.callers.timeline"))
        return redirect(url_for("ops.callers.timeline",
                                key=caller_key(number, settings().caller_key_secret)))
    key = request.args.get("key", "")
    key = key if len(key) == KEY_CHARS and all(c in "0123456789abcdef" for c in key) else ""
    rows = [agent.past(r) for r in caller_calls(agent.archive(), key)] if key else []
    return render_template("ops/callers.html", nav="callers", key=key, calls=rows,
                           now=in_progress(key) if key else [],
                           bad_key=bool(request.args.get("key")) and not key)


def in_progress(key: str) -> list[dict[str, Any]]:
    """This caller's calls in progress (the live-call index, never a SCAN): not in the
    archive yet, and the one an agent is most likely looking for."""
    conn, secret = get_store().conn, settings().caller_key_secret
    sids = live.members(conn, False, agent.MAX_LIVE)
    calls = [CallState.from_dict(json.loads(raw)) for raw, _ in call_states(conn, sids) if raw]
    mine = [c for c in calls if not c.ended and c.caller
            and caller_key(c.caller, secret) == key]
    return [{"sid": c.sid, "code": short_code(c.sid), "flow": c.flow,
             "where": st.title(c.state)} for c in mine]
