"""The Enqueue's wait URL: every request Twilio makes while a caller waits in the queue.

``POST /voice/<flow_id>/wait?e=<name>&turn=<N>`` is one turn of the call like any other
(the engine's queue states, :mod:`ivr.runtime.waiting`): ``e=wait`` is Twilio asking for
the next wait document (a ``queue_tick`` event with the caller's position and wait),
``e=turn`` the answer to a Gather in such a document (the callback offer, the number),
``e=no_input`` silence after one (a tick as well). Same signatures, same compare-and-set,
same transcript line as ``/event``.

waitUrl documents allow only Say/Play/Pause/Gather/Redirect/Leave, so a failure here never
dials the emergency number: the caller keeps their place in line (:func:`held`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response

from ivr.runtime.events import Event, EventKind
from ivr.server.context import get_store, settings
from ivr.server.guard import action_url, held, webhook_params
from ivr.server.voice import respond
from ivr.telephony.params import call_sid, event_from, queue_status

bp = Blueprint("hold", __name__, url_prefix="/voice")
WAIT_EVENTS = ("wait", "turn", "no_input")


@bp.route("/<flow_id>/wait", methods=["POST"])
@held
def wait(flow_id: str) -> Response:
    """A wait document, or the caller's answer inside one (see the module docstring)."""
    params = webhook_params()
    sid = call_sid(params)
    name, number = action_url(WAIT_EVENTS, "wait")
    now = settings().now() or datetime.now(UTC)
    if name == "turn":
        ev = event_from("turn", params, now)
    elif name == "no_input":  # silence after a prompt in the queue: Twilio's numbers too
        ev = Event(EventKind.NO_INPUT, queue=queue_status(params), now=now)
    else:
        ev = Event.tick(queue_status(params), now)
    return respond(get_store(), sid, number, ev)
