"""Error answers of the whole app: TwiML under /voice, a part's own page, else plain text.

- Under ``/voice`` a routing error (404, 405) or an unhandled one (500) still answers a
  caller with TwiML (the emergency human; the agent's whisper leg just connects): they
  get here only signed (:func:`~ivr.server.guard.voice_gate` runs before routing). A body
  over ``max_body`` is refused with 413 (it cannot be checked, nor stored whole).
- A part mounted on the app (the ops console under ``/ops``) gives its own page for its
  paths with :func:`add_error_pages`; this module does not import it.
- Everywhere else: a short plain-text page (``text/plain``, ``nosniff``), never HTML that
  could echo a request back, never Werkzeug's default page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ivr.server.context import settings
from ivr.server.guard import emergency_response
from ivr.server.voice import plain_whisper

log = logging.getLogger(__name__)
PAGES = "ivr.error_pages"
Render = Callable[[HTTPException], Any]


def add_error_pages(app: Flask, prefix: str, render: Render) -> None:
    """Let ``render`` answer the errors (404, 405, 413, 500) of paths under ``prefix``."""
    app.extensions.setdefault(PAGES, {})[prefix.rstrip("/")] = render


def plain(exc: HTTPException, text: str = "") -> Response:
    """``404 Not Found`` and what went wrong, as plain text (with 405's Allow header)."""
    body = f"{exc.code} {exc.name}\n\n{text or exc.description or ''}\n"
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    response = Response(body, exc.code or 500, headers, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _mounted() -> Render | None:
    pages: dict[str, Render] = current_app.extensions.get(PAGES, {})
    for prefix, render in pages.items():
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return render
    return None


def _voice(exc: HTTPException) -> Response | None:
    """The caller's (or the agent's) TwiML for an error under /voice, else None."""
    if not request.path.startswith("/voice"):
        return None
    if request.path.endswith("/whisper"):
        return plain_whisper()  # the agent's leg connects; nothing was read
    log.warning("%s %s: %s; dialling the emergency number", request.method,
                request.path[:200], exc)
    return emergency_response()


def _routing(exc: HTTPException) -> Any:
    voice = _voice(exc)
    if voice is not None:
        return voice
    render = _mounted()
    return render(exc) if render else plain(exc)


def _too_large(exc: HTTPException) -> Any:
    if request.path.startswith("/voice") and request.path.endswith("/whisper"):
        return plain_whisper()
    limit = settings().max_body
    log.warning("%s %s: body over max_body (%d bytes) refused", request.method,
                request.path[:200], limit)
    render = _mounted()
    if render is not None:
        return render(exc)
    return plain(exc, f"request body too large (over {limit} bytes): refused, nothing kept")


def _internal(exc: HTTPException) -> Any:
    """An unhandled exception (Flask logged it already): never a traceback to anyone."""
    voice = _voice(exc)
    if voice is not None:
        return voice
    render = _mounted()
    if render is not None:
        try:
            return render(exc)
        except Exception:  # noqa: BLE001 - the page itself failed: the plain one
            log.exception("error page of %s failed", request.path[:200])
    return plain(InternalServerError(), "something went wrong on the server; it is logged")


def _other(exc: HTTPException) -> Any:
    """Any other HTTP error (400, 409, 429...): the mounted part's page, else plain text."""
    render = _mounted()
    return render(exc) if render else plain(exc)


def register_error_pages(app: Flask) -> None:
    """The app-wide handlers (see the module docstring)."""
    app.register_error_handler(HTTPException, _other)
    for code in (404, 405):
        app.register_error_handler(code, _routing)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(InternalServerError, _internal)
    # Werkzeug answers '//' with a 308 redirect, which no error handler sees (routing
    # exceptions bypass them) and Twilio would not follow with a signature: make it a 404.
    app.url_map.merge_slashes = False
