"""The Flask app factory, the per-process cache of compiled flow versions, and reload.

``create_app()`` loads :class:`~ivr.config.Settings`, connects the store, compiles every
flow in ``flows_dir`` (a bad flow is a failed start, printed with its problems), publishes
each flow's source to Redis under its version and registers the ``voice`` blueprint.

Reload without restart: :func:`reload_flows` (``ivr reload``) re-checks ``flows_dir`` and
moves ``ivr:flow:{id}:current`` to each valid new version; broken files are refused and
the old version keeps serving. Web workers read the current pointer once per *new* call
(one GET), so they pick the new version up without a restart, while calls in flight stay
on the version they started with: :class:`Flows` rebuilds any pinned version from the
source stored in Redis.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr import store as store_mod
from ivr.catalog import Checked, check_file, compile_text, flow_files
from ivr.compiler import Compiled
from ivr.config import ConfigError, Settings, load_settings
from ivr.errors import FlowError, Problem, errors_in
from ivr.store import Store

log = logging.getLogger(__name__)
FLOWS_KEY = "ivr.flows"
SETTINGS_KEY = "ivr.settings"


class UnknownFlow(LookupError):
    """No published flow (or flow version) by that id."""


class Flows:
    """Compiled flows by (id, version), built once per process from text in Redis."""

    def __init__(self) -> None:
        self._by_version: dict[tuple[str, str], Compiled] = {}
        self._files: dict[str, tuple[Compiled, str]] = {}
        self._lock = threading.Lock()

    def add_file(self, c: Compiled, text: str) -> None:
        """Remember the version compiled from ``flows_dir`` at start-up (with its text)."""
        self.add(c)
        self._files[c.flow.id] = (c, text)

    def republish(self, store: Store, flow_id: str) -> str | None:
        """Redis lost ``flow_id``'s current version (restarted empty): put this process's
        start-up version back (without overriding one another process put back first) and
        return the version new calls start on; None for a flow this process never had."""
        hit = self._files.get(flow_id)
        if hit is None:
            return None
        c, text = hit
        store.put_flow(flow_id, c.flow.version, text)
        store.set_current_if_missing(flow_id, c.flow.version)
        log.warning("flow %s had no current version in Redis: republished %s", flow_id,
                    c.flow.version)
        return store.current(flow_id) or c.flow.version

    def ids(self) -> set[str]:
        """Flow ids compiled in this process."""
        return {flow_id for flow_id, _ in self._by_version}

    def add(self, c: Compiled) -> None:
        with self._lock:
            self._by_version[(c.flow.id, c.flow.version)] = c

    def pinned(self, store: Store, flow_id: str, version: str) -> Compiled:
        """Version ``version`` of ``flow_id``, compiled from Redis the first time."""
        hit = self._by_version.get((flow_id, version))
        if hit is not None:
            return hit
        text = store.flow_text(flow_id, version)
        if text is None:
            raise UnknownFlow(f"{flow_id}@{version}")
        c = compile_text(text, f"redis:{flow_id}@{version}")
        if c.flow.id != flow_id:
            raise UnknownFlow(f"{flow_id}@{version} holds flow {c.flow.id!r}")
        self.add(c)
        return c


@dataclass
class ReloadResult:
    """What a reload did: versions made current, files left unchanged, files refused."""

    published: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    failed: list[Checked] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for c in self.failed for p in c.problems]


def check_flows(settings: Settings) -> tuple[list[Compiled], list[Checked], list[str]]:
    """Check and compile every flow in ``flows_dir``: (compiled, failed files, sources)."""
    good: list[Compiled] = []
    texts: list[str] = []
    failed: list[Checked] = []
    for path in flow_files([settings.flows_dir]):
        checked = check_file(path)
        if checked.flow is None or not checked.ok():
            failed.append(checked)
            continue
        good.append(compile_text(checked.source.text, path))
        texts.append(checked.source.text)
    return good, failed, texts


def reload_flows(settings: Settings, store: Store, flows: Flows | None = None) -> ReloadResult:
    """Publish every valid flow in ``flows_dir`` as current; refuse broken files.

    A broken file changes nothing for its flow: the version already current keeps serving.
    """
    good, failed, texts = check_flows(settings)
    result = ReloadResult(failed=failed)
    for c, text in zip(good, texts, strict=True):
        key = (c.flow.id, c.flow.version)
        store.put_flow(c.flow.id, c.flow.version, text)
        if store.current(c.flow.id) == c.flow.version:
            result.unchanged.append(key)
        else:
            store.set_current(c.flow.id, c.flow.version)
            result.published.append(key)
        if flows is not None:
            flows.add(c)
    return result


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
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
    if settings.validate_signatures and not settings.twilio.auth_token:
        raise ConfigError([Problem(
            "IVR904", "validate_signatures is on but there is no Twilio auth token",
            "settings", hint="set TWILIO_AUTH_TOKEN (or validate_signatures: false for local "
            "experiments only)")])
    app = Flask("ivr")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body, **flask_conf)
    app.extensions[SETTINGS_KEY] = settings
    store_mod.init_app(app, settings)
    app.extensions[FLOWS_KEY] = _start_flows(settings, app.extensions[store_mod.EXTENSION_KEY])
    from ivr.web import bp, health, register_error_pages

    app.register_blueprint(bp)
    app.register_blueprint(health)
    register_error_pages(app)
    from ivr import ops  # the ops console under /ops (login, secret key, cookies)

    ops.init_app(app)
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = _NoSessionForTwilio()
    if settings.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1,  # type: ignore
                                x_port=1, x_prefix=1)
    return app


class _NoSessionForTwilio(SecureCookieSessionInterface):
    """The ops console's cookie sessions, minus their cost on Twilio's webhooks: requests
    under ``/voice`` get Flask's null session (no cookie parsing, signing or Set-Cookie);
    nothing there reads or writes the session."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/voice/"):
            return None
        return super().open_session(app, request)


def _start_flows(settings: Settings, store: Store) -> Flows:
    """Compile every flow (errors stop the start) and publish them (Redis down: logged)."""
    good, failed, texts = check_flows(settings)
    problems = [p for c in failed for p in (errors_in(c.problems) or c.problems)]
    if problems:
        raise FlowError(problems)
    flows = Flows()
    for c, text in zip(good, texts, strict=True):
        flows.add_file(c, text)
    try:
        for c, text in zip(good, texts, strict=True):
            store.put_flow(c.flow.id, c.flow.version, text)
            # Only where nothing is current: a restart must not undo a version published
            # since (ops console, `ivr reload`). Deploys publish with `ivr reload`.
            store.set_current_if_missing(c.flow.id, c.flow.version)
        # The spool is per host: jobs written while Redis was down go back to RQ here too,
        # not only where a worker happens to run.
        from ivr.jobs import drain_spool

        drain_spool(store.conn, settings.spool_dir, settings)
    except Exception:  # noqa: BLE001 - calls get the emergency path until Redis is back
        log.exception("could not publish flows / drain the job spool at start-up")
    return flows


def reload_from_config(overrides: Mapping[str, Any] | None = None) -> ReloadResult:
    """``ivr reload``: load settings (``config_path`` key allowed), connect, publish.

    Raises:
        ConfigError: Bad settings.
    """
    over = dict(overrides or {})
    settings = load_settings(over.pop("config_path", None), over)
    conn = store_mod.connect(settings)
    try:
        return reload_flows(settings, Store(conn, settings.call_ttl))
    finally:
        conn.close()


def dev_app(overrides: Mapping[str, Any] | None = None) -> tuple[Flask, Settings, str]:
    """The app for ``ivr serve``: like :func:`create_app`, but with no Twilio auth token
    signature checks are switched off (with a warning) so a first run needs nothing.

    Returns:
        The app, its settings and a warning ('' when none).
    """
    over = dict(overrides or {})
    settings = load_settings(over.get("config_path"), {k: v for k, v in over.items()
                                                       if k != "config_path"})
    warning = ""
    if settings.validate_signatures and not settings.twilio.auth_token:
        over["validate_signatures"] = False
        warning = ("warning: no Twilio auth token (TWILIO_AUTH_TOKEN), so request signatures "
                   "are NOT checked. Never run like this on a public address.")
    app = create_app(over)
    return app, app.extensions[SETTINGS_KEY], warning


def twilio_urls(base: str, app: Flask) -> list[str]:
    """The lines ``ivr serve`` prints: what to paste into the Twilio console."""
    base = base.rstrip("/")
    flows: Flows = app.extensions[FLOWS_KEY]
    lines = ["Twilio phone number settings (Voice configuration), HTTP POST:"]
    lines += [f"  A call comes in:       {base}/voice/{fid}" for fid in sorted(flows.ids())]
    lines += [f"  Primary handler fails: {base}/voice/fallback",
              f"  Call status changes:   {base}/voice/status",
              f"Health: {base}/healthz"]
    return lines
