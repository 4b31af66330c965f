"""The call server's two guards: signed requests only, and never an error for a caller.

:func:`voice_gate` rejects (403, nothing changed) any request under ``/voice`` without a
valid Twilio signature, whatever its method or path; :func:`guaranteed` turns any failure
of a voice route into the emergency TwiML (sorry, then ``emergency_number``); :func:`held`
does the same for waitUrl documents, where the caller keeps their place in line instead.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from flask import Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.sansio.utils import get_current_url

from ivr.config import Settings
from ivr.runtime.waiting import hold_fallback
from ivr.server.context import settings
from ivr.server.registry import UnknownFlow
from ivr.store.calls import UnknownCall
from ivr.telephony import twiml
from ivr.telephony.params import BadParams, count
from ivr.telephony.signatures import SETTINGS_HEADER, scheme, signed_by_twilio

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
XML = "text/xml"


def webhook_params() -> Mapping[str, str]:
    """The webhook's parameters: the form of a POST, the query of a GET."""
    return request.form if request.method == "POST" else request.args


def public_base(s: Settings | None = None) -> str:
    """The server's public base URL (``public_base_url``, else the request's host URL)."""
    base = (s or settings()).public_base_url
    return (base or _url(request.scheme, request.host)).rstrip("/")


_URL_PARTS_CACHED = 300
"""Longer paths + queries are built each time (the cache stays small whatever is sent)."""


@functools.lru_cache(maxsize=1024)
def _remembered_url(*parts: Any) -> str:
    return get_current_url(*parts)


def _url(scheme: str, host: str, root_path: str | None = None, path: str | None = None,
         query: bytes | None = None) -> str:
    """``request.url`` (all five parts) or ``request.host_url`` (scheme and host): the
    same werkzeug function with the same arguments as those properties, remembered, since
    every turn of a flow asks for the same few URLs and each build costs ~15 µs (quoting,
    then ``uri_to_iri``)."""
    if len(path or "") + len(query or b"") > _URL_PARTS_CACHED:
        return get_current_url(scheme, host, root_path, path, query)
    return _remembered_url(scheme, host, root_path, path, query)


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
        except (UnknownFlow, UnknownCall, BadParams, HTTPException) as exc:
            log.warning("%s %s: %s: %s; dialling the emergency number", request.method,
                        request.path, type(exc).__name__, exc)
        except Exception:
            log.exception("%s %s failed; dialling the emergency number", request.method,
                          request.path)
        return emergency_response()

    return wrapper  # type: ignore[return-value]


def held(view: F) -> F:
    """Like :func:`guaranteed` for waitUrl documents: on any failure keep the caller in line."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except Exception:
            log.exception("%s %s failed; the caller keeps waiting", request.method, request.path)
        return Response(twiml.render(hold_fallback(), {}), 200, mimetype=XML)

    return wrapper  # type: ignore[return-value]


def signed_url(s: Settings | None = None) -> str:
    """The URL Twilio signed: ``public_base_url`` + path when set, else the request URL."""
    base = (s or settings()).public_base_url
    if not base:
        return _url(request.scheme, request.host, request.root_path, request.path,
                    request.query_string)
    qs = request.query_string.decode("latin-1")
    return base.rstrip("/") + request.path + (f"?{qs}" if qs else "")


def signed_urls(s: Settings | None = None) -> Iterator[str]:
    """The URLs Twilio may have signed: :func:`signed_url`, then the URL exactly as it was
    requested (gunicorn's RAW_URI), which keeps percent-escapes werkzeug decodes."""
    s = s or settings()
    first = signed_url(s)
    yield first
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if raw.startswith("/") and public_base(s) + raw != first:
        yield public_base(s) + raw


def _proxy_hint(s: Settings) -> str:
    """Why a correct signature may not verify: a proxy or tunnel the settings ignore."""
    forwarded = [h for h in ("X-Forwarded-Proto", "X-Forwarded-Host") if h in request.headers]
    if forwarded and not s.behind_proxy and not s.public_base_url:
        return (f"; the request carries {', '.join(forwarded)}: behind a proxy or tunnel set "
                "public_base_url (ivr serve --public-url) or behind_proxy: true")
    return ""


def _params() -> Mapping[str, Any] | str:
    """What Twilio signed besides the URL: every form value of a POST (repeated keys too),
    the raw text of a JSON body (checked against the URL's bodySHA256), nothing for a GET."""
    if request.mimetype == "application/json":
        return request.get_data(as_text=True)
    return request.form if request.method == "POST" else {}


def signature_problem() -> Response | None:
    """None when the request carries a valid Twilio signature (or checks are off), else
    the 403 to answer (nothing changed, nothing read from Redis)."""
    s = settings()
    if not s.validate_signatures:
        return None
    signature = request.headers.get("X-Twilio-Signature", "")
    how = scheme(request.headers.get(SETTINGS_HEADER, ""), s.twilio.auth_token,
                 s.twilio.signing_keys)
    if signed_by_twilio(how.secret, signed_urls(s), _params(), signature, how.algorithm):
        return None
    why = f" (shared key {how.key_id[:40]!r} unknown)" if how.key_id and not how.secret else ""
    log.warning("rejected unsigned or forged %s %s (checked against %s)%s%s", request.method,
                request.path[:200], signed_url(s)[:200], why, _proxy_hint(s))
    return Response("invalid Twilio signature\n", 403, mimetype="text/plain")


def is_voice_path(path: str) -> bool:
    return path == "/voice" or path.startswith("/voice/")


def voice_gate() -> Response | None:
    """``before_request`` of the whole app: every request under ``/voice`` (any method,
    any path, routed or not) is checked before anything else runs, so a 404 or 405 there
    gets the emergency TwiML only when Twilio signed it; anything else gets 403."""
    if not is_voice_path(request.path):
        return None
    try:
        return signature_problem()
    except RequestEntityTooLarge:
        raise
    except Exception:  # noqa: BLE001 - unverifiable is unsigned: refuse, never a 500
        log.exception("signature check of %s failed", request.path[:200])
        return Response("invalid Twilio signature\n", 403, mimetype="text/plain")


def action_url(events: tuple[str, ...], default: str) -> tuple[str, int]:
    """The event name (``e=``) and turn (``turn=``) of an action URL we issued; BadParams
    for anything else (an unknown name, a turn that is not ASCII digits or below 1)."""
    name = request.args.get("e", default)
    raw = request.args.get("turn", "")
    number = count(raw)
    if name not in events or number is None or number < 1:
        raise BadParams(f"bad action URL e={name[:20]!r} turn={raw[:20]!r}")
    return name, number
