"""Settings for the call server, the CLI and the workers.

Precedence (lowest first): defaults → ``config.yaml`` → ``IVR_*`` environment variables
(nesting through ``__``, e.g. ``IVR_TWILIO__AUTH_TOKEN``) → explicit overrides (CLI flags,
tests). Twilio's own ``TWILIO_AUTH_TOKEN`` / ``TWILIO_ACCOUNT_SID`` and Heroku's
``REDIS_URL`` and ``DATABASE_URL`` (the archive) are honoured too, below their ``IVR_*``
spellings. A bad ``config.yaml``
fails with ``file:line:col`` and the fix, like a bad flow.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from ivr.config.checks import ADDRESS_LISTS, _problem, check_values
from ivr.config.settings import (
    ARCHIVE_PATH,
    ARCHIVE_SCHEMES,
    DEFAULT_CONFIG,
    ENV_PREFIX,
    ConfigError,
    Settings,
    TwilioSettings,
    host_port,
    masked_url,
)
from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.positions import Source
from ivr.flowlang.source import load

__all__ = ["ARCHIVE_PATH", "ARCHIVE_SCHEMES", "DEFAULT_CONFIG", "ENV_PREFIX", "ConfigError",
           "Settings", "TwilioSettings", "check_environment", "host_port", "load_settings",
           "masked_url"]


def load_settings(path: str | None = None, overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from defaults, the config file, the environment and ``overrides``.

    Args:
        path: config.yaml to read; default ``$IVR_CONFIG`` or ``./config.yaml`` if present.
        overrides: Highest-precedence values, nested dicts allowed (``{"twilio": {...}}``).
        environ: Environment to read (default ``os.environ``).

    Returns:
        The checked settings.

    Raises:
        ConfigError: With the position of each bad value.
    """
    env = os.environ if environ is None else environ
    path = path or env.get("IVR_CONFIG") or (DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG)
                                             else None)
    src = _read(path) if path else Source("<defaults>", "", {})
    layers: list[tuple[str, Mapping[str, Any]]] = [
        (src.file, src.data or {}), ("environment", _from_env(env)),
        ("overrides", overrides or {})]
    data: dict[str, Any] = {}
    problems: list[Problem] = []
    for origin, layer in layers:
        problems += _merge(data, layer, origin, src if origin == src.file else None)
    if problems:
        raise ConfigError(problems)
    from_file = {k for k in layers[0][1] if k not in layers[1][1] and k not in layers[2][1]}
    settings = _build(data)
    origins = {**{k: "command-line option" for k in layers[2][1]},
               **{k: f"{ENV_PREFIX}{k.upper()}" for k in layers[1][1] if k not in layers[2][1]}}
    problems = check_values(settings, src if path else None, from_file, origins)
    if problems:
        raise ConfigError(problems)
    return settings


def _read(path: str) -> Source:
    try:
        with open(path, "rb") as fh:
            src = load(fh.read(), path)
    except OSError as exc:
        raise ConfigError([Problem("IVR901", f"cannot read config: {exc.strerror}", path)]) from exc
    if src.problems:
        raise ConfigError(src.problems)
    if src.data is not None and not isinstance(src.data, dict):
        raise ConfigError([src.problem("IVR902", "config must be a mapping of settings")])
    return src


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    conventions = {"TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
                   "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"), "REDIS_URL": ("redis_url",),
                   "DATABASE_URL": ("archive_url",)}
    for name, keys in conventions.items():
        if env.get(name):
            _put(out, keys, env[name])
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and name != "IVR_CONFIG":
            _put(out, tuple(name[len(ENV_PREFIX):].lower().split("__")), value)
    return out


def _put(out: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    for k in keys[:-1]:
        out = out.setdefault(k, {})
    out[keys[-1]] = value


_NESTED = {"twilio": TwilioSettings}


def _merge(data: dict[str, Any], layer: Mapping[str, Any], origin: str,
           src: Source | None) -> list[Problem]:
    """Merge one layer into ``data``, converting strings; problems for unknown/bad keys."""
    problems = []
    for key, value in layer.items():
        if key in _NESTED and isinstance(value, Mapping):
            sub = data.setdefault(key, {})
            for k2, v2 in value.items():
                problems += _set(sub, _NESTED[key], str(k2), v2, origin, src, (key, str(k2)))
        else:
            problems += _set(data, Settings, str(key), value, origin, src, (str(key),))
    return problems


def _set(data: dict[str, Any], cls: type, key: str, value: Any, origin: str,
         src: Source | None, path: tuple[str, ...]) -> list[Problem]:
    known = {f.name: f for f in fields(cls)}
    if key not in known or key in _NESTED:
        close = difflib.get_close_matches(key, list(known), 1)
        hint = f"did you mean '{close[0]}'?" if close else \
            "expected one of: " + ", ".join(sorted(known))
        return [_problem(src, origin, path, f"unknown setting '{'.'.join(path)}'", hint)]
    kind = type(getattr(cls(), key))
    try:
        data[key] = _addresses(value) if key in ADDRESS_LISTS else _convert(value, kind)
    except ValueError:
        return [_problem(src, origin, path, f"setting '{'.'.join(path)}' must be "
                         f"{_KINDS.get(kind, 'a ' + kind.__name__)}, not {value!r}", "")]
    return []


_KINDS: dict[type, str] = {
    int: "a whole number", float: "a number", bool: "true or false", str: "text",
    dict: "a mapping (JSON in the environment)",
    list: "a list of whole seconds (JSON in the environment, e.g. [1, 5, 30])"}
"""What a setting of each type must be, in words for the error message."""


def _convert(value: Any, kind: type) -> Any:
    if value is None:
        return kind()
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(value)
    if kind in (int, float) and isinstance(value, bool):
        raise ValueError(value)
    if kind is dict:  # from the environment: JSON text
        parsed = json.loads(value) if isinstance(value, str) else value
        if not isinstance(parsed, dict):
            raise ValueError(value)
        return {str(k): str(v) for k, v in parsed.items()}
    if kind is list:  # seconds: from the environment, JSON text
        parsed = json.loads(value) if isinstance(value, str) else value
        if not isinstance(parsed, list) or not parsed or not all(
                isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in parsed):
            raise ValueError(value)
        return list(parsed)
    return kind(value)


def _addresses(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split(",")
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(value)
    return [x.strip() for x in value if x.strip()]


def _build(data: dict[str, Any]) -> Settings:
    nested: dict[str, Any] = {k: cls(**data.pop(k)) for k, cls in _NESTED.items() if k in data}
    return dataclasses.replace(Settings(), **data, **nested)


def check_environment(environ: Mapping[str, str] | None = None) -> list[Problem]:
    """Problems with the ``IVR_*`` variables alone (unknown names, unreadable values): every
    command checks them the same way, whether or not it reads the other settings."""
    env = os.environ if environ is None else environ
    problems = _merge({}, _from_env(env), "environment", None)
    names = {n[len(ENV_PREFIX):].lower().replace("__", "."): n for n in env
             if n.startswith(ENV_PREFIX)}
    out = []
    for p in problems:  # name the variable, not the setting it was read as
        message = p.message
        for key, name in names.items():
            message = message.replace(f"setting '{key}'", f"{name} (setting '{key}')")
        out.append(dataclasses.replace(p, message=message))
    return out
