"""The ``voice`` blueprint: Twilio webhooks → events → ``engine.step`` → TwiML.

Routes (all signed by Twilio, checked by :func:`twilio_signed`):

- ``POST /voice/<flow_id>``: the Voice URL, starts a call on the flow's current version.
- ``POST /voice/<flow_id>/event?e=<name>&turn=<N>``: every action URL (``e`` is ``turn``,
  ``no_input``, ``dial`` or ``recording``; ``turn`` makes duplicates harmless).
- ``GET|POST /voice/<flow_id>/whisper?sid=...``: the context read to the agent.
- ``POST /voice/<flow_id>/wait?sid=...``: the Enqueue waitUrl: position, expected wait, hold
  audio and the callback offer (:mod:`ivr.queue`); ``/wait/callback?sid=...&step=...``
  takes the caller's callback choice. Failures there keep the caller in line (hold TwiML).
- ``POST /voice/status``: status callback; a finished call gets a ``hangup`` event.
- ``POST /voice/fallback``: Twilio's Fallback URL; dials the emergency number from config
  and touches neither Redis nor flows.

THE GUARANTEE: whatever fails while serving a call (an engine error, an unknown flow or
call, Redis down or slow, a garbage request) is logged and answered with 200 TwiML that
says sorry and dials ``emergency_number``: never a 500, never Twilio's "application error".
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

from flask import Blueprint, Flask, Response, current_app, request
from twilio.request_validator import RequestValidator, add_port, compare, remove_port
from werkzeug.exceptions import HTTPException

from ivr import history, twiml
from ivr.app import FLOWS_KEY, SETTINGS_KEY, Flows, UnknownFlow
from ivr.compiler import Compiled
from ivr.config import Settings
from ivr.engine import step, turn_record
from ivr.events import MAX_TEXT, CallState, Event, EventKind, from_params
from ivr.jobs import submit
from ivr.redact import redact_text
from ivr.store import Prefetch, Store, Turn, UnknownCall, get_store
from ivr.verbs import Action, Job

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/voice")
health = Blueprint("health", __name__)
F = TypeVar("F", bound=Callable[..., Any])
XML = "text/xml"
EVENTS = ("turn", "no_input", "dial", "recording")
FINISHED = {"completed", "busy", "failed", "no-answer", "canceled"}
_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def settings() -> Settings:
    s: Settings = current_app.extensions[SETTINGS_KEY]
    return s


def flows() -> Flows:
    f: Flows = current_app.extensions[FLOWS_KEY]
    return f


def emergency_response() -> Response:
    """The TwiML of last resort: sorry, then the emergency human (config only)."""
    s = settings()
    return Response(twiml.emergency(s.emergency_number, s.emergency_message), 200,
                    mimetype=XML)


def guaranteed(view: F) -> F:
    """Turn any exception in ``view`` into the emergency TwiML (and a log line)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except (UnknownFlow, UnknownCall, BadRequest, HTTPException) as exc:
            log.warning("%s %s: %s: %s; dialling the emergency number", request.method,
                        request.path, type(exc).__name__, exc)
        except Exception:
            log.exception("%s %s failed; dialling the emergency number", request.method,
                          request.path)
        return emergency_response()

    return wrapper  # type: ignore[return-value]


class BadRequest(ValueError):
    """A webhook we cannot act on (missing CallSid, bad turn): the caller still gets help."""


# --- signatures ---------------------------------------------------------------------------

def signed_url() -> str:
    """The URL Twilio signed: ``public_base_url`` + path when set, else the request URL."""
    base = settings().public_base_url
    if not base:
        return request.url
    qs = request.query_string.decode("latin-1")
    return base.rstrip("/") + request.path + (f"?{qs}" if qs else "")


def _signed_urls() -> Iterator[str]:
    """The URL Twilio may have signed: :func:`signed_url`, then the URL exactly as it was
    requested (gunicorn's RAW_URI), which keeps percent-escapes werkzeug decodes."""
    first = signed_url()
    yield first
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if raw.startswith("/"):
        base = (settings().public_base_url or request.host_url).rstrip("/")
        if base + raw != first:
            yield base + raw


def twilio_signed(view: F) -> F:
    """Reject (403, nothing changed) a request without a valid ``X-Twilio-Signature``.

    Skipped only when ``validate_signatures`` is false.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        s = settings()
        if s.validate_signatures:
            signature = request.headers.get("X-Twilio-Signature", "")
            params = request.form.to_dict() if request.method == "POST" else {}
            if not signature or not any(
                    valid_signature(s.twilio.auth_token, url, params, signature)
                    for url in _signed_urls()):
                log.warning("rejected unsigned or forged request to %s", request.path)
                return Response("invalid Twilio signature\n", 403, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@functools.lru_cache(maxsize=8)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def valid_signature(token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """The verdict of the SDK's ``RequestValidator(token).validate(url, params, signature)``
    (HMAC-SHA1 of the URL with and without its port; the form's parameters), but the
    second HMAC is computed only when the first one does not match."""
    validator = _validator(token)
    parsed = urlparse(url)
    for candidate in (remove_port(parsed), add_port(parsed)):
        if compare(validator.compute_signature(candidate, params), signature):
            return True
    return False


# --- turns --------------------------------------------------------------------------------

def event_urls(flow_id: str, turn: int, sid: str) -> dict[str, str]:
    """Absolute action URLs of the next turn (``turn`` is the call's turn after this one)."""
    base = (settings().public_base_url or request.host_url).rstrip("/")
    root = f"{base}/voice/{quote(flow_id, safe='')}"
    urls = {e: f"{root}/event?e={e}&turn={turn}" for e in EVENTS}
    urls["whisper"] = f"{root}/whisper?sid={quote(sid, safe='')}"
    urls["wait"] = f"{root}/wait?sid={quote(sid, safe='')}"
    urls["transcription"] = f"{root}/transcription?sid={quote(sid, safe='')}"
    return urls


def _params() -> Mapping[str, str]:
    return request.form if request.method == "POST" else request.args


def _sid(params: Mapping[str, str]) -> str:
    sid = params.get("CallSid") or ""
    if not _SID.match(sid):
        raise BadRequest(f"missing or malformed CallSid {sid[:80]!r}")
    return sid


def _number(raw: str) -> str:
    """The caller's number as given by Twilio, cleaned (kept whole: a callback needs it).

    It lives only in the call state (with its TTL) and the callback request; the inbox,
    the whisper and the archive's call rows see it masked (:func:`ivr.redact.mask_number`).
    """
    cleaned = "".join(c for c in raw if c.isdigit() or c == "+")[:20]
    return cleaned if sum(c.isdigit() for c in cleaned) >= 4 else ""


def _new_call(store: Store, sid: str, flow_id: str, version: str,
              known: Prefetch | None = None) -> CallState:
    """A new call's state; for a callback we placed (``?callback=<sid>``), the caller is
    the number we rang and the earlier call's context comes along for the whisper.

    ``known`` is the caller's history, read with the turn (see :func:`_history_read`)."""
    params = _params()
    earlier_sid = request.args.get("callback", "")
    if not _SID.match(earlier_sid):
        caller = _number(params.get("From", ""))
        told = _history_from(known) if known is not None else _history(store, caller)
        return CallState(sid, flow_id, version, caller=caller, history=told)
    caller = _number(params.get("To", ""))
    earlier = store.load(earlier_sid)
    if earlier is None:  # expired: the person still knows it is a callback
        return CallState(sid, flow_id, version, caller=caller, callback=earlier_sid,
                         reason="(a callback they asked for earlier)")
    return CallState(sid, flow_id, version, caller=caller, callback=earlier_sid,
                     reason=earlier.reason, slots=dict(earlier.slots), path=earlier.path[-6:],
                     heard=earlier.heard, history=_history(store, caller))


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
    """The read of :func:`ivr.history.recent` for a new call's caller (same key, same
    window), to send with the turn's own read instead of one more round trip. None for a
    callback we placed (its caller and history come from the earlier call) or no number.
    """
    if _SID.match(request.args.get("callback", "")):
        return None
    s = settings()
    command = history.query(_number(_params().get("From", "")), s.now(), s.caller_key_secret)
    return Prefetch(command) if command else None


def _history_from(read: Prefetch) -> str:
    """The whisper line from a :func:`_history_read` reply ('' when unknown or on error)."""
    if isinstance(read.result, Exception):
        log.warning("caller history unavailable: %s", read.result)
        return ""
    if not isinstance(read.result, list):
        return ""
    return history.summary(history.topics(read.result))


def _turn(c: Compiled, before: CallState, event: Event) -> tuple[Turn, list[Action]]:
    after, actions = step(c, before, event)
    urls = event_urls(after.flow, after.turn, after.sid)
    record = turn_record(c, before, event, after, actions)
    return Turn(after, twiml.render(actions, urls), record), actions


def _respond(store: Store, sid: str, turn: int, event: Event, flow_id: str = "") -> Response:
    """Advance call ``sid`` once (re-serving duplicates); enqueue the turn's jobs.

    ``flow_id`` is given for a new call: it starts on that flow's current version (and
    the caller's history is read in the same round trip as the call).
    """
    produced: list[Action] = []
    known = _history_read() if flow_id else None

    def apply(before: CallState | None, current: str | None) -> Turn:
        if before is None:
            current = current or flows().republish(store, flow_id)
            if current is None:
                raise UnknownFlow(flow_id)
            before = _new_call(store, sid, flow_id, current, known)
        c = flows().pinned(store, before.flow, before.version)
        result, actions = _turn(c, before, event)
        produced[:] = actions
        return result

    outcome = store.advance(sid, turn, apply, current_of=flow_id,
                            prefetch=(known,) if known is not None else ())
    if outcome.applied:
        jobs = [a for a in produced if isinstance(a, Job)]
        if jobs:
            submit(store.conn, jobs, settings())
    elif not outcome.twiml:
        raise BadRequest(f"call {sid}: duplicate with no stored TwiML")
    response = Response(outcome.twiml, 200, mimetype=XML)
    if outcome.call is not None:
        # For QA (`ivr replay --via`) and logs: where the call is now. Not read by Twilio.
        response.headers["X-IVR-State"] = outcome.call.state
        response.headers["X-IVR-Outcome"] = outcome.call.outcome
    return response


@bp.route("/<flow_id>", methods=["POST"])
@guaranteed
@twilio_signed
def start(flow_id: str) -> Response:
    """Voice URL: a new call starts on the flow's current version."""
    params = _params()
    sid = _sid(params)
    event = from_params("start", params, settings().now())
    return _respond(get_store(), sid, 0, event, flow_id)


@bp.route("/<flow_id>/event", methods=["POST"])
@guaranteed
@twilio_signed
def event(flow_id: str) -> Response:
    """Action URLs: apply the caller's input to the turn named in the URL."""
    params = _params()
    sid = _sid(params)
    name = request.args.get("e", "turn")
    turn = request.args.get("turn", "")
    if name not in EVENTS or not turn.isdigit() or int(turn) < 1:
        raise BadRequest(f"bad event URL e={name[:20]!r} turn={turn[:20]!r}")
    ev = from_params(name, params, settings().now())
    return _respond(get_store(), sid, int(turn), ev)


@bp.route("/<flow_id>/transcription", methods=["POST"])
@twilio_signed
def transcription(flow_id: str) -> Response:
    """Twilio's transcription of a recorded "other" capture (``capture`` with ``record:
    true``): the caller's words join the call's inbox item, through RQ. Not a call turn:
    whatever happens, Twilio gets an empty 200."""
    params = _params()
    text = (params.get("TranscriptionText") or "").strip()[:MAX_TEXT]
    try:
        sid = _sid(params)
        if text and params.get("TranscriptionStatus", "completed") == "completed":
            now = (settings().now() or datetime.now(UTC)).isoformat()
            submit(get_store().conn, [Job("inbox_words", {
                "sid": sid, "flow": flow_id[:64], "said": redact_text(text), "at": now})],
                settings())
    except Exception:  # noqa: BLE001 - a lost transcription loses words, never the call
        log.exception("transcription for %s not recorded", params.get("CallSid", "")[:64])
    return Response(twiml.render([], {}), 200, mimetype=XML)


@bp.route("/<flow_id>/whisper", methods=["GET", "POST"])
@twilio_signed
def whisper(flow_id: str) -> Response:
    """What the person who answers hears before being connected.

    This TwiML plays on the AGENT's leg: whatever fails (Redis down, a bad request), the
    agent hears a plain whisper and the call connects; never the caller's emergency dial.
    """
    try:
        call = get_store().load(request.args.get("sid", "")[:64])
        text = call.whisper if call else ""
    except Exception:  # noqa: BLE001 - the caller is waiting: connect them without context
        log.exception("whisper for %s unavailable", request.args.get("sid", "")[:64])
        text = ""
    return _plain_whisper(text)


def _plain_whisper(text: str = "") -> Response:
    return Response(twiml.whisper(text), 200, mimetype=XML)


@bp.route("/status", methods=["POST"])
@guaranteed
@twilio_signed
def status() -> Response:
    """Status callback: a call that finished mid-flow gets its ``hangup`` event."""
    params = _params()
    response = Response(twiml.render([], {}), 200, mimetype=XML)
    if params.get("CallStatus", "") in FINISHED:
        sid = _sid(params)
        store = get_store()
        call = store.load(sid)
        if call is not None and not call.ended:
            ev = Event(EventKind.HANGUP, now=settings().now() or datetime.now(UTC))
            ended = _respond(store, sid, call.turn, ev)
            for header in ("X-IVR-State", "X-IVR-Outcome"):
                if header in ended.headers:
                    response.headers[header] = ended.headers[header]
    return response


@bp.route("/fallback", methods=["GET", "POST"])
@guaranteed
@twilio_signed
def fallback() -> Response:
    """Twilio's Fallback URL: the emergency human, needing neither Redis nor flows."""
    return emergency_response()


@health.route("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """200 with the flows when the app and Redis are ready, 503 otherwise."""
    try:
        ok = get_store().ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return {"ok": False, "redis": f"{type(exc).__name__}: {exc}"[:200]}, 503
    return {"ok": ok, "redis": "ok", "flows": sorted(flows().ids())}, 200 if ok else 503


def register_error_pages(app: Flask) -> None:
    """Routing errors under /voice (404, 405, 413) still answer with TwiML to a person."""

    def handler(exc: Exception) -> Any:
        if request.path.startswith("/voice") and request.path.endswith("/whisper"):
            return _plain_whisper()  # the agent's leg: see whisper()
        if request.path.startswith("/voice"):
            log.warning("%s %s: %s; dialling the emergency number", request.method,
                        request.path, exc)
            return emergency_response()
        return exc

    for code in (404, 405, 413):
        app.register_error_handler(code, handler)
    # Werkzeug answers '//' with a 308 redirect, which no error handler sees (routing
    # exceptions bypass them) and Twilio would not follow with a signature: make it a 404.
    app.url_map.merge_slashes = False


from ivr import hold as _hold  # noqa: E402,F401 - registers the hold (waitUrl) routes on bp
