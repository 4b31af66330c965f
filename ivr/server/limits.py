"""Request bodies: over ``max_body`` is refused whole (413), never cut short and used.

Flask's ``MAX_CONTENT_LENGTH`` refuses a body whose ``Content-Length`` is too big. A
chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``) is another matter:
werkzeug 3 only *limits* the stream then (``LimitedStream(is_max=True)``), and under
gunicorn (which sets ``wsgi.input_terminated``) the form parser and ``get_data()`` get the
first ``max_body`` bytes and no error, checked on this machine: a 2,005-byte chunked form
with a limit of 1,000 arrived as a 995-character field. A flow published from such a
request would be a cut-off text; a ``/check`` whose error is at the end would answer ok.

:class:`BodyLimit` (WSGI middleware, outermost) reads a chunked body itself, up to
``max_body + 1`` bytes, and hands Flask a plain body with its ``Content-Length``: one more
byte than allowed and Flask refuses it with 413 like any other (so the app's 413 handlers
apply). A chunked body the server does not terminate (no ``wsgi.input_terminated``) cannot
be read safely and is answered 411.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def read_at_most(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream`` (fewer when it ends first)."""
    parts: list[bytes] = []
    left = limit
    while left > 0:
        chunk = stream.read(min(left, 64 * 1024))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


class BodyLimit:
    """Make a chunked request body a counted one (or refuse it); see the module docstring."""

    def __init__(self, app: WSGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            if not environ.get("wsgi.input_terminated"):
                start_response("411 Length Required", [("Content-Type", "text/plain")])
                return [b"a chunked body needs a server that de-chunks it; send "
                        b"Content-Length\n"]
            body = read_at_most(environ["wsgi.input"], self.max_body + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))  # > max_body: Flask's 413
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ.pop("wsgi.input_terminated", None)
        return self.app(environ, start_response)
