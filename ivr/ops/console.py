"""The ops console under ``/ops``: log in, then flows, simulator, live calls, inbox, metrics.

Server-rendered pages (``ivr/templates/ops``) with a little JavaScript
(``ivr/static/ops``; the flow editor's bundle is built from ``web/`` and committed), nothing
fetched from the network. This module
holds the ``ops`` blueprint, the login, and the guards every ``/ops`` request passes:

- not logged in: a redirect to the login page (401 JSON for fetch calls);
- a POST without the session's CSRF token (form field ``csrf_token`` or header
  ``X-CSRF-Token``): 403, nothing done;
- logged in but below the role the route declares (:mod:`ivr.ops.roles`; a viewer may
  read, check and simulate, not publish): 403; a route that declares none: 403 too;
- login attempts are counted before the password is checked, per client address and
  user (:mod:`ivr.ops.auth`).

The pages live in :mod:`ivr.ops.flows`, :mod:`ivr.ops.sim` and :mod:`ivr.ops.live`,
registered as nested blueprints. The Twilio webhooks under ``/voice`` are not touched.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from ivr.ops import agent, callers, live, roles, sessions, sim, times
from ivr.ops import auth as ops_auth
from ivr.ops import errors as ops_errors
from ivr.ops import flows as flows_pages
from ivr.ops.editor import bp as editor_bp
from ivr.ops.flows import bp as flows_bp
from ivr.ops.graph_map import bp as graph_bp
from ivr.ops.inbox_draft import bp as inbox_draft_bp
from ivr.ops.live import bp as live_bp
from ivr.ops.sim import bp as sim_bp
from ivr.server.context import get_store, settings, settings_of, store_of
from ivr.server.errors import add_error_pages

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__, url_prefix="/ops", template_folder="templates",
               static_folder="static/ops", static_url_path="/static")
bp.register_blueprint(flows_bp)
bp.register_blueprint(graph_bp)
bp.register_blueprint(sim_bp)
bp.register_blueprint(live_bp)
bp.register_blueprint(inbox_draft_bp)
bp.register_blueprint(agent.bp)
bp.register_blueprint(callers.bp)
bp.register_blueprint(editor_bp)
times.register(bp)
USERS = "ivr.ops.users"
OPEN_ENDPOINTS = {"ops.login", "ops.static"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


def init_app(app: Flask) -> None:
    """Register the console on ``app``: the blueprint, the session key and cookie settings.

    Without a configured secret key (``SECRET_KEY``, the ``secret_key`` setting or
    ``IVR_SECRET_KEY``) a random one is generated and kept in Redis, with a warning:
    fine for a laptop, not for production.
    """
    settings = settings_of(app)
    conn = store_of(app).conn
    key, generated = ops_auth.secret_key(app.config, settings, conn)
    if generated:
        log.warning("ops console: no secret key configured (IVR_SECRET_KEY); using a "
                    "generated one. Set it in production.")
    app.secret_key = key
    app.extensions[USERS] = ops_auth.users_from(app.config, settings)
    flows_pages.init_app(app, settings)
    sim.init_app(app, settings)
    live.init_app(app, settings)
    insecure = app.testing or app.debug or generated
    cookie = {"SESSION_COOKIE_SECURE": not insecure, "SESSION_COOKIE_HTTPONLY": True,
              "SESSION_COOKIE_SAMESITE": "Lax", "SESSION_COOKIE_NAME": "ivr_ops",
              "PERMANENT_SESSION_LIFETIME": timedelta(hours=8)}
    for name, value in cookie.items():  # values given to create_app win over these
        if app.config.get(name) == Flask.default_config.get(name):
            app.config[name] = value
    app.register_blueprint(bp)
    add_error_pages(app, bp.url_prefix or "/ops", _app_error)


def user() -> str:
    """The logged-in user's name ('' when nobody is)."""
    return str(session.get("user", ""))


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = ops_auth.new_token()
    return str(token)


@bp.app_template_global("csrf_field")
def _csrf_field() -> str:
    from markupsafe import Markup, escape

    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">')


@bp.context_processor
def _context() -> dict[str, Any]:
    role = str(g.get("ops_role", ""))
    return {"user": user(), "csrf_token": csrf_token, "role": role,
            "can_change": roles.allows(role, roles.OPS),
            "can_read_stories": roles.allows(role, roles.AGENT),
            "max_body": settings_of(current_app).max_body}


def _static_users() -> dict[str, str]:
    users: dict[str, str] = current_app.extensions.get(USERS, {})
    return users


@bp.before_request
def _guard() -> Any:
    """Login required everywhere but the login page; CSRF token required on every POST."""
    if request.endpoint not in OPEN_ENDPOINTS and not _logged_in():
        if request.is_json or request.accept_mimetypes.best == "application/json" or \
                request.method not in SAFE_METHODS and request.headers.get("X-CSRF-Token"):
            return {"error": "not logged in"}, 401
        if request.cookies.get(current_app.config["SESSION_COOKIE_NAME"]) and \
                not session.get("bye"):
            flash("Your session has ended: please log in again.", "warn")
        return redirect(url_for("ops.login", next=request.full_path.rstrip("?")))
    if request.method not in SAFE_METHODS:
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
        if not ops_auth.same(sent, str(session.get("csrf", ""))):
            abort(403, "CSRF token missing or wrong: reload the page and try again.")
    if request.endpoint and request.endpoint not in OPEN_ENDPOINTS:
        want = roles.required(current_app.view_functions.get(request.endpoint or ""))
        have = str(g.get("ops_role", ""))
        if not roles.allows(have, want):
            abort(403, f"Your role ({have or 'none'}) may not do this; it needs "
                       f"{want or 'a role this page does not declare'}.")
    return None


def _logged_in() -> bool:
    """A user who exists and a session that has not been logged out (the cookie alone is
    not enough: logging out deletes the session's key, so a saved cookie stops working)."""
    name = user()
    sid = str(session.get("sid", ""))
    if not name or not sid:
        return False
    conn = get_store().conn
    s = settings()
    if not sessions.alive(conn, sid, name, s.ops_idle_minutes * 60, s.ops_session_hours * 3600):
        return False
    role = ops_auth.user_role(conn, _static_users(), name)  # read each time: a changed
    g.ops_role = role or ""                                  # role applies at once
    return role is not None


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "ops.static":
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _error(exc: HTTPException) -> Any:
    """A console view's 403, 404, 405, 413 or 500: the console's page (:mod:`ivr.ops.errors`)."""
    return ops_errors.page(exc, settings_of(current_app).max_body, {}, {})


bp.register_error_handler(HTTPException, _error)  # 400, 403, 404, 405, 409, 413, 429...
bp.register_error_handler(500, _error)


def _app_error(exc: HTTPException) -> Any:
    """An error under /ops outside any console view (no such page, a wrong method, a body
    refused before routing): the same page, navigation only for a live session."""
    alive = _logged_in()
    role = str(g.get("ops_role", "")) if alive else ""
    context = {"user": user() if alive else "", "csrf_token": csrf_token, "role": role,
               "can_change": roles.allows(role, roles.OPS),
               "can_read_stories": roles.allows(role, roles.AGENT),
               "max_body": settings_of(current_app).max_body}
    got = ops_errors.page(exc, settings_of(current_app).max_body, context, {})
    return _headers(got) if isinstance(got, Response) else got


def _safe_next(target: str) -> str:
    """Where to go after logging in: a console path only (no other host, no header tricks)."""
    parts = urlsplit(target)
    if target.startswith("/ops") and not parts.netloc and not parts.scheme and \
            target.isprintable() and not any(c in target for c in " \\"):
        return target
    return url_for("ops.flows.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; 429 while too many recent failures."""
    if request.method == "GET":
        csrf_token()
        return render_template("ops/login.html", next=request.args.get("next", ""))
    name = request.form.get("username", "").strip()[:64]
    ip = request.remote_addr or "?"
    got = ops_auth.login(get_store().conn, _static_users(), name,
                         request.form.get("password", ""), ip)
    if got.ok:
        session.clear()
        session.permanent = True
        session["user"] = name
        session["csrf"] = ops_auth.new_token()
        s = settings()
        session["sid"] = sessions.start(get_store().conn, name, s.ops_idle_minutes * 60,
                                        s.ops_session_hours * 3600)
        log.info("ops console: %s logged in from %s", name, ip)
        return redirect(_safe_next(request.form.get("next", "")))
    if got.limited:
        minutes = max(1, (got.retry_after + 59) // 60)
        error, status = (f"Too many failed attempts. Try again in {minutes} minute(s)."), 429
    else:
        error, status = "Wrong user name or password.", 401
    log.warning("ops console: failed login for %r from %s", name, ip)
    return render_template("ops/login.html", error=error, username=name,
                           next=request.form.get("next", "")), status


@bp.route("/logout", methods=["POST"])
@roles.needs(roles.VIEWER)
def logout() -> Any:
    """Log this session out; with ``everywhere=1``, every session of this user."""
    sid, name = str(session.get("sid", "")), user()
    if request.form.get("everywhere") == "1" and name:
        n = sessions.end_all(get_store().conn, name)
        message = f"Logged out on every browser ({n} session{'s' if n != 1 else ''})."
    else:
        if sid:
            sessions.end(get_store().conn, sid, name)
        message = "Logged out."
    session.clear()
    session["bye"] = True
    flash(message, "ok")
    return redirect(url_for("ops.login"))


@bp.route("/")
@roles.needs(roles.VIEWER)
def home() -> Any:
    return redirect(url_for("ops.flows.index"))
