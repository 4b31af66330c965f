"""Waiting in a Twilio queue: the ``waitUrl`` document (position, expected wait, hold
audio, a callback offer) and the callback choice, as routes on the ``voice`` blueprint.

waitUrl documents allow only Say/Play/Pause/Gather/Redirect/Leave, so a failure here never
dials the emergency number: the caller keeps their place in line (:func:`held`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from flask import Blueprint, Response, request

from ivr.jobs.enqueue import submit
from ivr.runtime import waiting as queue
from ivr.runtime.actions import Job
from ivr.runtime.events import CallState
from ivr.server.context import flows, get_store, settings
from ivr.server.guard import XML, held, public_base, twilio_signed, webhook_params
from ivr.telephony import twiml
from ivr.telephony.params import BadParams, event_from, is_sid, queue_number, queue_status

log = logging.getLogger(__name__)
bp = Blueprint("hold", __name__, url_prefix="/voice")


def wait_urls(flow_id: str, sid: str, expected: int, waited: int) -> dict[str, str]:
    """The wait document's URLs: itself (``wait``, ``no_input``) and the callback steps."""
    root = f"{public_base()}/voice/{quote(flow_id, safe='')}/wait"
    q = f"sid={quote(sid, safe='')}&t={waited}"
    urls = {"wait": f"{root}?{q}", "no_input": f"{root}?{q}"}
    for name in queue.STEPS:
        urls[f"cb_{name}"] = f"{root}/callback?{q}&in={expected}&step={name}"
    return urls


def _waiting() -> tuple[str, CallState | None, queue.WaitConfig]:
    """The waiting call's sid (from the URL), its state if readable, and the wait config."""
    sid = request.args.get("sid", "")
    if not is_sid(sid):
        raise BadParams(f"wait URL with a bad sid {sid[:80]!r}")
    s, call, voice, language = settings(), None, "", ""
    try:
        call = get_store().load(sid)
        if call is not None:
            flow = flows().pinned(get_store(), call.flow, call.version).flow
            voice, language = flow.voice, flow.language
    except Exception:  # noqa: BLE001 - announcements go on without the flow's voice
        log.warning("wait %s: call state unavailable", sid, exc_info=True)
    return sid, call, queue.WaitConfig(s.hold_music_url, s.wait_offer_every,
                                       s.wait_offer_threshold, voice, language)


@bp.route("/<flow_id>/wait", methods=["POST"])
@held
@twilio_signed
def wait(flow_id: str) -> Response:
    """Enqueue waitUrl: position and expected wait, hold audio, now and then a callback offer."""
    sid, _, cfg = _waiting()
    status = queue_status(webhook_params())
    last = request.args.get("t")
    actions = queue.wait_actions(status, queue_number(last) if last else None, cfg)
    urls = wait_urls(flow_id, sid, status.expected, status.waited)
    return Response(twiml.render(actions, urls), 200, mimetype=XML)


@bp.route("/<flow_id>/wait/callback", methods=["POST"])
@held
@twilio_signed
def wait_callback(flow_id: str) -> Response:
    """One step of the callback choice; a confirmed number becomes a callback job."""
    sid, call, cfg = _waiting()
    expected = queue_number(request.args.get("in"))
    digits = event_from("turn", webhook_params()).digits
    turn = queue.callback_step(request.args.get("step", ""), digits,
                               call.caller if call else "", expected, cfg)
    if turn.number:
        job = _callback_job(call or CallState(sid, flow_id, ""), turn.number, expected)
        submit(get_store().conn, [job], settings())
    urls = wait_urls(flow_id, sid, expected, queue_number(request.args.get("t")))
    return Response(twiml.render(turn.actions, urls), 200, mimetype=XML)


def _callback_job(call: CallState, number: str, expected: int) -> Job:
    """The engine's callback job shape, plus the confirmed number and the promised time."""
    now = settings().now() or datetime.now(UTC)
    promise = now + timedelta(seconds=queue.callback_at(expected))
    return Job("callback", {"sid": call.sid, "flow": call.flow, "caller": call.caller,
                            "recording": "", "duration": 0, "reason": call.reason,
                            "slots": call.slots, "path": call.path[-6:],
                            "at": now.isoformat(), "number": number,
                            "promise": promise.isoformat()})
