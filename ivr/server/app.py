"""The call server's Flask app factory (the voice webhooks and /healthz).

``create_app()`` loads :class:`~ivr.config.Settings`, connects the store, compiles every
flow in ``flows_dir`` (a bad flow is a failed start, printed with its problems), publishes
each flow's source to Redis under its version and registers the ``voice`` blueprint.
``extensions`` are called with the app once it is built: :mod:`ivr.app` passes the ops
console's ``init_app`` that way, so this package never imports the console.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis
from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.config import ConfigError, Settings, load_settings
from ivr.flowlang.diagnostics import FlowError, Problem, errors_in
from ivr.flowlang.machine import resize_cache
from ivr.jobs.enqueue import drain_spool
from ivr.server import context, hold, legs, meaning
from ivr.server.errors import register_error_pages
from ivr.server.guard import voice_gate
from ivr.server.limits import BodyLimit
from ivr.server.registry import Flows, check_flows
from ivr.server.voice import bp, health
from ivr.store.calls import Store
from ivr.store.keys import RELOADED

log = logging.getLogger(__name__)
Extension = Callable[[Flask], None]


def create_app(config: Mapping[str, Any] | None = None,
               extensions: Iterable[Extension] = ()) -> Flask:
    """Build the call server.

    Args:
        config: Overrides. Lower-case keys are settings (``{"redis_url": ...}``), upper-case
            keys go to Flask's config (``{"TESTING": True}``). ``config_path`` names the
            config file.

    Returns:
        The Flask app.

    Raises:
        ConfigError: Bad settings. FlowError: a flow in ``flows_dir`` has errors.
    """
    config = dict(config or {})
    path = config.pop("config_path", None)
    flask_conf = {k: v for k, v in config.items() if k.isupper()}
    settings = load_settings(path, {k: v for k, v in config.items() if not k.isupper()})
    if settings.validate_signatures and not (settings.twilio.auth_token
                                             or settings.twilio.signing_keys):
        raise ConfigError([Problem(
            "IVR904", "validate_signatures is on but there is no Twilio auth token",
            "settings", hint="set TWILIO_AUTH_TOKEN (or validate_signatures: false for local "
            "experiments only)")])
    app = Flask("ivr")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body, **flask_conf)
    store = context.init_app(app, settings)
    app.extensions[context.FLOWS_KEY] = _start_flows(settings, store,
                                                     context.jobs_redis_of(app))
    if settings.semantic_matching:
        meaning.start(app, settings.model_cache_dir,
                      app.extensions[context.FLOWS_KEY].started)
    app.before_request(voice_gate)  # first: nothing under /voice runs unsigned
    app.register_blueprint(bp)
    app.register_blueprint(hold.bp)
    app.register_blueprint(legs.bp)
    app.register_blueprint(health)
    register_error_pages(app)
    for extension in extensions:  # e.g. the ops console under /ops (ivr.app)
        extension(app)
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = _NoSessionForTwilio()
    if settings.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1,  # type: ignore
                                x_port=1, x_prefix=1)
    app.wsgi_app = BodyLimit(app.wsgi_app, settings.max_body)  # type: ignore[method-assign]
    return app


class _NoSessionForTwilio(SecureCookieSessionInterface):
    """The ops console's cookie sessions, minus their cost on Twilio's webhooks: requests
    under ``/voice`` get Flask's null session (no cookie parsing, signing or Set-Cookie);
    nothing there reads or writes the session."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/voice/"):
            return None
        return super().open_session(app, request)


def _start_flows(settings: Settings, store: Store, jobs: redis.Redis) -> Flows:
    """Compile every flow (errors stop the start) and publish them (Redis down: logged)."""
    resize_cache(settings.compiled_cache_size)
    good, failed, texts = check_flows(settings)
    problems = [p for c in failed for p in (errors_in(c.problems) or c.problems)]
    if problems:
        raise FlowError(problems)
    flows = Flows(settings.compiled_cache_size)
    for c, text in zip(good, texts, strict=True):
        flows.add_file(c, text)
    try:
        for c, text in zip(good, texts, strict=True):
            store.put_flow(c.flow.id, c.flow.version, text)
            # Only where nothing is current: a restart must not undo a version published
            # since (ops console, `ivr reload`). Deploys publish with `ivr reload`.
            if store.set_current_if_missing(c.flow.id, c.flow.version):
                store.conn.set(RELOADED.format(c.flow.id), c.flow.version, nx=True)
        # The spool is per host: jobs written while Redis was down go back to RQ here too,
        # not only where a worker happens to run.
        drain_spool(jobs, settings.spool_dir, settings)
    except Exception:  # noqa: BLE001 - calls get the emergency path until Redis is back
        log.exception("could not publish flows / drain the job spool at start-up")
    return flows


def dev_app(overrides: Mapping[str, Any] | None = None,
            extensions: Iterable[Extension] = ()) -> tuple[Flask, Settings, str]:
    """The app for ``ivr serve``: like :func:`create_app`, but with no Twilio auth token
    signature checks are switched off (with a warning) so a first run needs nothing, and
    the forwarded headers of a local HTTPS tunnel (ngrok, cloudflared) are honoured, so a
    signature is checked against the public URL Twilio signed.

    Returns:
        The app, its settings and a warning ('' when none).
    """
    over = dict(overrides or {})
    settings = load_settings(over.get("config_path"), {k: v for k, v in over.items()
                                                       if k != "config_path"})
    over.setdefault("behind_proxy", True)  # a tunnel delivers https://x.ngrok-free.app as
    warning = ""                           # http://127.0.0.1 plus X-Forwarded-* headers
    if settings.validate_signatures and not settings.twilio.auth_token:
        over["validate_signatures"] = False
        warning = ("warning: no Twilio auth token (TWILIO_AUTH_TOKEN), so request signatures "
                   "are NOT checked. Never run like this on a public address.")
    app = create_app(over, extensions)
    return app, context.settings_of(app), warning


def twilio_urls(base: str, app: Flask) -> list[str]:
    """The lines ``ivr serve`` prints: what to paste into the Twilio console."""
    base = base.rstrip("/")
    flows: Flows = app.extensions[context.FLOWS_KEY]
    lines = ["Twilio phone number settings (Voice configuration), HTTP POST:"]
    lines += [f"  A call comes in:       {base}/voice/{fid}" for fid in sorted(flows.ids())]
    lines += [f"  Primary handler fails: {base}/voice/fallback",
              f"  Call status changes:   {base}/voice/status",
              f"Health: {base}/healthz"]
    return lines
