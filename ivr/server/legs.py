"""The person's phone leg of a Dial: Twilio's ``<Number>`` status callback.

``POST /voice/<flow_id>/leg?sid=<caller's CallSid>&turn=<N>`` arrives as the person's phone
is rung, answers and hangs up (``statusCallbackEvent``; its own CallSid is the person's
leg, ``ParentCallSid`` the caller's). Each report that is news (:func:`~ivr.runtime.person.
leg_news`: the call is still ringing that person, and the leg has not reported this far)
is one engine turn like any other (``leg`` event, same compare-and-set, a transcript line
that the archive keeps), so every step of reaching a person is on record, and the time a
person answered (``picked_up``) is known. It never changes what the caller hears.

Signed like every /voice request (:func:`~ivr.server.guard.voice_gate`). Whatever happens,
Twilio gets an empty 200: the response to a status callback is not played to anyone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, request

from ivr.runtime.events import CallState, Event
from ivr.runtime.person import leg_news
from ivr.server.context import flows, get_store, settings
from ivr.server.guard import XML, webhook_params
from ivr.server.voice import commit_turn
from ivr.store.calls import Commit, Stale, UnknownCall
from ivr.telephony import twiml
from ivr.telephony.params import BadParams, count, is_sid, leg_event

log = logging.getLogger(__name__)
bp = Blueprint("legs", __name__, url_prefix="/voice")


@bp.route("/<flow_id>/leg", methods=["POST"])
def leg(flow_id: str) -> Response:
    """One progress report of the person's phone leg (see the module docstring)."""
    empty = Response(twiml.render([], {}), 200, mimetype=XML)
    try:
        params = webhook_params()
        sid, turn = request.args.get("sid", ""), count(request.args.get("turn"))
        parent = params.get("ParentCallSid", "")
        ev = leg_event(params, settings().now() or datetime.now(UTC))
        if not is_sid(sid) or turn is None or ev is None or (parent and parent != sid):
            log.warning("leg report for %r ignored: bad sid, turn or CallStatus",
                        sid[:64])
            return empty
        _apply(sid, turn, ev)
    except (Stale, UnknownCall, BadParams):
        pass  # a repeat, an older leg, or a call that ended: nothing to note
    except Exception:  # noqa: BLE001 - a lost leg report loses a line, never the call
        log.exception("leg report for %s not recorded", request.args.get("sid", "")[:64])
    return empty


def _apply(sid: str, turn: int, ev: Event) -> None:
    """Note ``ev`` on the call when it is news for the leg the Dial of ``turn`` placed."""
    store = get_store()

    def apply(before: CallState | None, current: str | None) -> Commit:
        if before is None or before.leg != turn or not leg_news(before, ev.status):
            raise Stale(sid)
        return commit_turn(flows().pinned(store, before.flow, before.version), before, ev)

    store.advance(sid, None, apply)
