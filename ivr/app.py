"""The composition root: the call server with the ops console, for gunicorn.

``gunicorn "ivr.app:create_app()"`` (the Procfile's ``web``) builds the voice server of
:mod:`ivr.server.app` and mounts the console of :mod:`ivr.ops` on it. This module is the
only place that knows both, so ``ivr.server`` never imports ``ivr.ops``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from ivr.config import Settings
from ivr.ops import console
from ivr.server import app as server_app
from ivr.server.app import twilio_urls
from ivr.server.registry import reload_flows, reload_from_config

__all__ = ["create_app", "dev_app", "reload_flows", "reload_from_config", "twilio_urls"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The call server and the ops console (see :func:`ivr.server.app.create_app`)."""
    return server_app.create_app(config, extensions=(console.init_app,))


def dev_app(overrides: Mapping[str, Any] | None = None) -> tuple[Flask, Settings, str]:
    """``ivr serve``'s app, with the console (see :func:`ivr.server.app.dev_app`)."""
    return server_app.dev_app(overrides, extensions=(console.init_app,))
