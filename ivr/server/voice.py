"""The ``voice`` blueprint: Twilio webhooks → events → ``engine.step`` → TwiML.

Routes (all signed by Twilio, checked by :func:`~ivr.server.guard.voice_gate` before routing):

- ``POST /voice/<flow_id>``: the Voice URL, starts a call on the flow's current version.
- ``POST /voice/<flow_id>/event?e=<name>&turn=<N>``: every action URL (``e`` is ``turn``,
  ``no_input``, ``dial`` or ``recording``; ``turn`` makes duplicates harmless).
- ``GET|POST /voice/<flow_id>/whisper?sid=...``: the context read to the agent.
- ``POST /voice/<flow_id>/wait?sid=...``: the Enqueue waitUrl: position, expected wait, hold
  audio and the callback offer (:mod:`ivr.runtime.waiting`); ``/wait/callback?sid=...&step=...``
  takes the caller's callback choice. Failures there keep the caller in line (hold TwiML).
- ``POST /voice/status``: status callback; a finished call gets a ``hangup`` event.
- ``POST /voice/fallback``: Twilio's Fallback URL; dials the emergency number from config
  and touches neither Redis nor flows.

A turn's jobs (archive, inbox, callback) are committed with it, into the call's outbox
(:meth:`ivr.store.calls.Store.advance`), and moved to RQ by :func:`drain_after` once the
response has been sent; nothing is enqueued while Twilio waits for the TwiML.

THE GUARANTEE: whatever fails while serving a call (an engine error, an unknown flow or
call, Redis down or slow, a garbage request) is logged and answered with 200 TwiML that
says sorry and dials ``emergency_number``: never a 500, never Twilio's "application error".
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from ivr.flowlang.machine import QUEUE_STATES, Compiled
from ivr.flowlang.model import HUMAN
from ivr.jobs import history
from ivr.jobs.enqueue import submit
from ivr.jobs.outbox import drain_quietly
from ivr.runtime.actions import Job
from ivr.runtime.engine import step
from ivr.runtime.events import MAX_TEXT, CallState, Event, EventKind
from ivr.runtime.record import turn_record
from ivr.runtime.redact import redact_text
from ivr.server import promises
from ivr.server.callback_calls import attempt_of, unanswered_callback
from ivr.server.context import flows, get_store, jobs_redis, settings
from ivr.server.guard import (
    XML,
    action_url,
    emergency_response,
    guaranteed,
    public_base,
    webhook_params,
)
from ivr.server.registry import UnknownFlow
from ivr.store import live
from ivr.store.calls import Commit, Prefetch, Served, Stale, Store, UnknownCall
from ivr.telephony import twiml
from ivr.telephony.params import BadParams, call_sid, caller_number, event_from, is_sid

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/voice")
health = Blueprint("health", __name__)
EVENTS = ("turn", "no_input", "dial", "recording")
FINISHED = {"completed", "busy", "failed", "no-answer", "canceled"}
PERSON_STATES = QUEUE_STATES | {HUMAN}
"""Where a call is while a Dial or Enqueue it placed can still report its result."""


# --- turns --------------------------------------------------------------------------------

def event_urls(call: CallState) -> dict[str, str]:
    """Absolute action URLs of the call's next turn (``call`` is the state after this one).

    While the caller waits in the queue, Gather results and silence go to the wait URL
    too: its documents run inside Twilio's queue, and a failure there must keep the
    caller in line rather than dial (see :mod:`ivr.server.hold`).
    """
    root = f"{public_base()}/voice/{quote(call.flow, safe='')}"
    urls = {e: f"{root}/event?e={e}&turn={call.turn}" for e in EVENTS}
    wait = f"{root}/wait?e={{}}&turn={call.turn}"
    urls["wait"] = wait.format("wait")
    if call.state in QUEUE_STATES:
        urls["turn"], urls["no_input"] = wait.format("turn"), wait.format("no_input")
    sid = quote(call.sid, safe="")
    urls["whisper"] = f"{root}/whisper?sid={sid}"
    urls["leg"] = f"{root}/leg?sid={sid}&turn={call.turn}"
    urls["transcription"] = f"{root}/transcription?sid={sid}"
    return urls


def _new_call(store: Store, sid: str, flow_id: str, version: str,
              known: Prefetch | None = None) -> CallState:
    """A new call's state; for a callback we placed (``?callback=<sid>``), the caller is
    the number we rang and the earlier call's context comes along for the whisper.

    ``known`` is the caller's history, read with the turn (see :func:`_history_read`)."""
    params = webhook_params()
    earlier_sid = request.args.get("callback", "")
    if not is_sid(earlier_sid):
        caller = caller_number(params.get("From", ""))
        told = _history_from(known) if known is not None else _history(store, caller)
        return CallState(sid, flow_id, version, caller=caller, history=told)
    caller = caller_number(params.get("To", ""))
    attempt = attempt_of(request.args.get("attempt"))
    earlier = store.load(earlier_sid)
    if earlier is None:  # expired: the person still knows it is a callback
        return CallState(sid, flow_id, version, caller=caller, callback=earlier_sid,
                         attempt=attempt, reason="(a callback they asked for earlier)")
    return CallState(sid, flow_id, version, caller=caller, callback=earlier_sid,
                     attempt=attempt, reason=earlier.reason, slots=dict(earlier.slots),
                     path=earlier.path[-6:], heard=earlier.heard,
                     history=_history(store, caller))


def _history(store: Store, caller: str) -> str:
    """The whisper line about this caller's recent calls ('' when unknown or on error)."""
    try:
        topics = history.recent(store.conn, caller, settings().now(),
                                settings().caller_key_secret)
    except Exception:  # noqa: BLE001 - history is a nicety; the call goes on without it
        log.warning("caller history unavailable", exc_info=True)
        return ""
    return history.summary(topics)


def _history_read() -> Prefetch | None:
    """The read of :func:`ivr.jobs.history.recent` for a new call's caller (same key, same
    window), to send with the turn's own read instead of one more round trip. None for a
    callback we placed (its caller and history come from the earlier call) or no number.
    """
    s = settings()
    if is_sid(request.args.get("callback", "")) or not s.caller_key_secret:
        return None  # no key yet (Redis was down since the start): no history, no error
    caller = caller_number(webhook_params().get("From", ""))
    command = history.query(caller, s.now(), s.caller_key_secret)
    return Prefetch(command) if command else None


def _history_from(read: Prefetch) -> str:
    """The whisper line from a :func:`_history_read` reply ('' when unknown or on error)."""
    if isinstance(read.result, Exception):
        log.warning("caller history unavailable: %s", read.result)
        return ""
    if not isinstance(read.result, list):
        return ""
    return history.summary(history.topics(read.result))


def commit_turn(c: Compiled, before: CallState, event: Event) -> Commit:
    after, actions = step(c, before, event, promises.engine_options(c, before, event))
    urls = event_urls(after)
    record = turn_record(c, before, event, after, actions)
    jobs = [a for a in actions if isinstance(a, Job)]
    promises.remember(before, event, jobs)
    return Commit(after, twiml.render(actions, urls), record, jobs)


def respond(store: Store, sid: str, turn: int, event: Event, flow_id: str = "") -> Response:
    """Advance call ``sid`` once (re-serving duplicates). The turn's jobs are committed with
    it, into the call's outbox, and moved to RQ once the response has been sent.

    ``flow_id`` is given for a new call: it starts on that flow's current version (and
    the caller's history is read in the same round trip as the call).
    """
    known = _history_read() if flow_id else None

    def apply(before: CallState | None, current: str | None) -> Commit:
        if before is None:
            current = current or flows().republish(store, flow_id)
            if current is None:
                raise UnknownFlow(flow_id)
            before = _new_call(store, sid, flow_id, current, known)
        c = flows().pinned(store, before.flow, before.version)
        return commit_turn(c, before, event)

    served = store.advance(sid, turn, apply, current_of=flow_id,
                           prefetch=(known,) if known is not None else ())
    return _serve(store, sid, served)


def _serve(store: Store, sid: str, served: Served) -> Response:
    """The response to a turn: the TwiML served, where the call is, the drain after it."""
    promises.count(sid, served.applied)
    if not served.applied and not served.twiml:
        raise BadParams(f"call {sid}: duplicate with no stored TwiML")
    response = Response(served.twiml, 200, mimetype=XML)
    _where(response, served)
    return drain_after(response, store, sid, served)


def _where(response: Response, served: Served) -> None:
    """For QA (`ivr replay --via`) and logs: where the call is now. Not read by Twilio."""
    if served.call is not None:
        response.headers["X-IVR-State"] = served.call.state
        response.headers["X-IVR-Outcome"] = served.call.outcome


def drain_after(response: Response, store: Store, sid: str, served: Served) -> Response:
    """When the call's outbox holds jobs (this turn's, or ones an earlier drain left),
    move them to RQ once ``response`` has been sent (its ``close``), never before: the
    TwiML reaches Twilio whatever RQ does. On a cluster, a call that started or ended with
    this turn is noted in the live-call index (:mod:`ivr.store.live`) then too (on one
    Redis the compare-and-set did it). Nothing to do costs nothing."""
    if served.pending:
        response.call_on_close(partial(drain_quietly, store.conn, sid, settings(),
                                       jobs_redis()))
    call = served.call
    if served.applied and not served.noted and call is not None and \
            live.changes(call.ended, call.turn):  # on a cluster (one Redis: in the commit)
        response.call_on_close(partial(live.note, store.conn, sid, call.ended, store.ttl))
    return response


@bp.route("/<flow_id>", methods=["POST"])
@guaranteed
def start(flow_id: str) -> Response:
    """Voice URL: a new call starts on the flow's current version."""
    params = webhook_params()
    sid = call_sid(params)
    event = event_from("start", params, settings().now())
    return respond(get_store(), sid, 0, event, flow_id)


@bp.route("/<flow_id>/event", methods=["POST"])
@guaranteed
def event(flow_id: str) -> Response:
    """Action URLs: apply the caller's input to the turn named in the URL."""
    params = webhook_params()
    sid = call_sid(params)
    name, number = action_url(EVENTS, "turn")
    ev = event_from(name, params, settings().now())
    if name == "dial":
        return dial_result(get_store(), sid, number, ev)
    if name == "recording":
        return recording(get_store(), sid, number, ev)
    return respond(get_store(), sid, number, ev)


def dial_result(store: Store, sid: str, leg: int, ev: Event) -> Response:
    """The result of a Dial or Enqueue, posted to the URL of the turn that placed it
    (``leg``). Queue ticks may have advanced the call since: while the call is still with
    that person (or in that queue), the result applies to the call as it is now.

    One advance of the current turn (``turn=None``: stepped again if a tick commits
    meanwhile), so still two round trips; anything else is a stale delivery (Stale).
    """

    def apply(before: CallState | None, current: str | None) -> Commit:
        assert before is not None  # turn=None: an unknown call raised UnknownCall
        if before.turn != leg and (before.ended or before.leg != leg
                                   or before.state not in PERSON_STATES):
            raise Stale(sid)
        return commit_turn(flows().pinned(store, before.flow, before.version), before, ev)

    return _serve(store, sid, store.advance(sid, None, apply))


def recording(store: Store, sid: str, turn: int, ev: Event) -> Response:
    """A Record's result, posted to the turn that asked for it. When the caller hung up
    while recording, the status callback may have ended the call first (one turn later):
    the message is still applied, so it becomes a call back instead of being lost."""

    def apply(before: CallState | None, current: str | None) -> Commit:
        assert before is not None
        if before.turn != turn and not (before.ended and ev.recording
                                        and before.turn == turn + 1):
            raise Stale(sid)
        return commit_turn(flows().pinned(store, before.flow, before.version), before, ev)

    return _serve(store, sid, store.advance(sid, None, apply))


@bp.route("/<flow_id>/transcription", methods=["POST"])
def transcription(flow_id: str) -> Response:
    """Twilio's transcription of a recorded "other" capture (``capture`` with ``record:
    true``): the caller's words join the call's inbox item, through RQ. Not a call turn
    (so not through the outbox: :func:`~ivr.jobs.enqueue.submit`, spooled when Redis is
    down): whatever happens, Twilio gets an empty 200."""
    params = webhook_params()
    text = (params.get("TranscriptionText") or "").strip()[:MAX_TEXT]
    try:
        sid = call_sid(params)
        if text and params.get("TranscriptionStatus", "completed") == "completed":
            now = (settings().now() or datetime.now(UTC)).isoformat()
            said = redact_text(text)
            # one job per recording: a second recorded capture's words are kept too
            tag = params.get("RecordingSid", "")[:40] or hashlib.sha1(
                said.encode(), usedforsecurity=False).hexdigest()[:12]
            submit(jobs_redis(), [Job("inbox_words", {
                "sid": sid, "flow": flow_id[:64], "said": said, "at": now})], settings(), tag)
    except Exception:  # noqa: BLE001 - a lost transcription loses words, never the call
        log.exception("transcription for %s not recorded", params.get("CallSid", "")[:64])
    return Response(twiml.render([], {}), 200, mimetype=XML)


@bp.route("/<flow_id>/whisper", methods=["GET", "POST"])
def whisper(flow_id: str) -> Response:
    """What the person who answers hears before being connected.

    This TwiML plays on the AGENT's leg: whatever fails (Redis down, a bad request), the
    agent hears a plain whisper and the call connects; never the caller's emergency dial.
    """
    try:
        call = get_store().load(request.args.get("sid", "")[:64])
        text = call.whisper if call else ""
        if call:  # the person answered: the agent page shows the call as connected
            live.answered(get_store().conn, call.sid, get_store().ttl)
    except Exception:  # noqa: BLE001 - the caller is waiting: connect them without context
        log.exception("whisper for %s unavailable", request.args.get("sid", "")[:64])
        text = ""
    return plain_whisper(text)


def plain_whisper(text: str = "") -> Response:
    """The whisper TwiML: ``text`` said to the agent (nothing when empty), then connected."""
    return Response(twiml.whisper(text), 200, mimetype=XML)


@bp.route("/status", methods=["POST"])
@guaranteed
def status() -> Response:
    """Status callback: a call that finished mid-flow gets its ``hangup`` event.

    The hang-up belongs to the call, not to one turn: it is applied to whatever turn is
    current and, when a Dial or Record action of that turn commits first, stepped again on
    the newer state (``turn=None``), so it is never dropped; a call that has ended already
    is left as it is (:class:`~ivr.store.calls.Stale`).
    """
    params = webhook_params()
    response = Response(twiml.render([], {}), 200, mimetype=XML)
    if params.get("CallStatus", "") not in FINISHED:
        return response
    sid, store = call_sid(params), get_store()
    ev = Event(EventKind.HANGUP, now=settings().now() or datetime.now(UTC))

    def apply(before: CallState | None, current: str | None) -> Commit:
        if before is None or before.ended:
            raise Stale(sid)
        return commit_turn(flows().pinned(store, before.flow, before.version), before, ev)

    try:
        served = store.advance(sid, None, apply)
    except UnknownCall:  # never started here, or expired: nothing to end
        unanswered_callback(params)
        return response
    _where(response, served)
    return drain_after(response, store, sid, served)


@bp.route("/fallback", methods=["GET", "POST"])
@guaranteed
def fallback() -> Response:
    """Twilio's Fallback URL: the emergency human, needing neither Redis nor flows."""
    return emergency_response()


@health.route("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """200 with the flows when the app and Redis are ready, 503 otherwise (on a cluster,
    200 while any primary answers: the others' calls go on; the dead ones are named)."""
    try:
        ok, down = get_store().ping(), get_store().down()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return {"ok": False, "redis": f"{type(exc).__name__}: {exc}"[:200]}, 503
    state = f"degraded: {', '.join(down)} down" if down else "ok"
    return {"ok": ok, "redis": state, "flows": sorted(flows().ids())}, 200 if ok else 503
