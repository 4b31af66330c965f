"""The console's error pages (403, 404, 405, 413, 500): styled, with the console's
navigation and a way back, JSON for the console's own fetch calls.

Raised inside a console view they come from the ``ops`` blueprint's handlers
(:mod:`ivr.ops.console`); a path under ``/ops`` that matches no route (404), a method a
route does not take (405) and a body over ``max_body`` refused before any view ran come
through :func:`ivr.server.errors.add_error_pages`, which the console registers for
``/ops``. The 413 page says that nothing was sent and that going back (the browser keeps
the form's text on back) gets the edit again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, render_template, request
from werkzeug.exceptions import HTTPException

TITLES = {403: "Not allowed", 404: "Not found", 405: "Not allowed this way",
          413: "Too large", 500: "Something went wrong"}
BACK = {405, 413, 500}
"""Codes whose page leads with "Go back" (the form you came from is worth keeping)."""


def wants_json() -> bool:
    """A fetch from the console's scripts (JSON, or the CSRF header) rather than a page."""
    return request.is_json or request.accept_mimetypes.best == "application/json" or \
        bool(request.headers.get("X-CSRF-Token"))


def message_of(exc: HTTPException, max_body: int) -> str:
    """What the person reads: the view's own description, else one for the code."""
    code = exc.code or 500
    if code == 413:
        return (f"What you sent is larger than {max_body:,} bytes (max_body), so it was "
                "refused: nothing was checked or published. Go back: your text is still "
                "in the editor.")
    if code == 405:
        return (f"{request.method} is not how this page is used. Go back, or follow a link "
                "below.")
    if code == 500:
        return ("Something went wrong on the server (it is logged). Nothing you sent was "
                "lost on your side: go back and try again, or tell whoever runs the console.")
    if code == 404 and not request.endpoint:
        return f"There is no console page at {request.path[:200]}."
    return str(exc.description or TITLES.get(code, "Error"))


def page(exc: HTTPException, max_body: int, context: Mapping[str, Any],
         headers: Mapping[str, str]) -> Any:
    """The error as the console's page (or JSON for a fetch), status ``exc.code``."""
    code = exc.code or 500
    message = message_of(exc, max_body)
    if wants_json():
        body: dict[str, Any] = {"error": message}
        if code == 413:
            body["max_body"] = max_body
        return body, code
    html = render_template("ops/error.html", code=code, title=TITLES.get(code, "Error"),
                           message=message, back=code in BACK, **context)
    response = Response(html, code, mimetype="text/html")
    for name, value in exc.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    response.headers.update(headers)
    return response
