"""The job functions ``ivr worker`` runs: archive a call, an inbox item, a callback request,
tell ops. Each is idempotent (the archive upserts by CallSid and turn), so a retry after a
crash writes nothing twice; a payload that cannot work fails at once, without retries.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import redis
from rq import get_current_job

from ivr.config import Settings
from ivr.jobs import history
from ivr.jobs.archive import Archive, scrub
from ivr.runtime.redact import mask_number
from ivr.store.connection import connect, separate_jobs
from ivr.store.db.engine import target_of
from ivr.store.keys import CALL, TRANSCRIPT
from ivr.store.legacy import adopt_legacy
from ivr.store.secrets import with_caller_key

log = logging.getLogger(__name__)
NOTIFY_HTTP_TIMEOUT = 10
T = TypeVar("T")
E = TypeVar("E", bound=Exception)


_settings: Settings = Settings()
_archives: dict[tuple[str, str, float], Archive] = {}
_state_redis: list[redis.Redis] = []


class PayloadError(ValueError):
    """A job's payload cannot be processed; it fails at once (no retries) for a person.

    Args:
        kind: The job kind.
        problem: What is wrong, e.g. "missing 'sid'".
    """

    def __init__(self, kind: str, problem: str) -> None:
        super().__init__(f"{kind} job: {problem}")
        self.kind = kind
        self.problem = problem


def configure(settings: Settings | None) -> None:
    """Give the job functions the worker's settings (archive path, ops webhook, spool)."""
    global _settings
    _settings = settings or Settings()
    _archives.clear()
    _state_redis.clear()


def current_settings() -> Settings:
    """The settings given to :func:`configure` (the worker's; defaults before that)."""
    return _settings


def archive() -> Archive:
    """The archive ``settings.archive_url`` names (else the SQLite ``archive_path``),
    opened (schema checked) once per process: forked work horses inherit it from the
    worker that opened it at start, and open their own connections (a database that is
    down then fails the job, which RQ retries). Caller numbers are hashed with the
    configured or the deployment's generated key (:func:`caller_secret`).

    Raises:
        ivr.jobs.archive.ArchiveError: Unreachable, or not migrated.
    """
    key = (target_of(_settings), caller_secret(), _settings.archive_timeout)
    found = _archives.get(key)
    if found is None:
        found = _archives[key] = Archive(*key)
    return found


def _checked(kind: str, payload: object, required: tuple[str, ...]) -> dict[str, Any]:
    """``payload`` as a dict with ``required`` keys, or PayloadError (and no retries)."""
    if not isinstance(payload, dict):
        raise _no_retry(PayloadError(kind, f"payload must be an object, not "
                                           f"{type(payload).__name__}"))
    missing = [k for k in required if payload.get(k) in (None, "")]
    if missing:
        raise _no_retry(PayloadError(kind, "missing " + ", ".join(map(repr, missing))))
    if not isinstance(payload["sid"], str):
        raise _no_retry(PayloadError(kind, "'sid' must be a string"))
    return {str(k): v for k, v in payload.items()}


def caller_secret(conn: redis.Redis | None = None) -> str:
    """The caller-number hash key: configured, else the deployment's generated one from
    Redis (:mod:`ivr.store.secrets`), read once per process and kept in the settings."""
    global _settings
    if not _settings.caller_key_secret:
        if conn is None and get_current_job() is None:
            return ""  # outside a job with nothing configured: Archive refuses to hash
        _settings = with_caller_key(_settings, conn or state_redis())
    return _settings.caller_key_secret


def _redis() -> redis.Redis:
    """The Redis of the running job's queue (the jobs Redis)."""
    current = get_current_job()
    if current is None:
        raise RuntimeError("record_call needs Redis: run it in an RQ worker")
    conn: redis.Redis = current.connection
    return conn


def use_state_redis(conn: redis.Redis) -> None:
    """Give the job functions the worker's call-state client (forked work horses inherit
    it, cluster topology included; redis-py opens new sockets after a fork)."""
    _state_redis[:] = [conn]


def state_redis() -> redis.Redis:
    """The call-state Redis (calls, transcripts, caller history): the jobs Redis itself
    unless the settings give the jobs their own (``jobs_redis_url``, a cluster), then a
    client of the settings' call-state Redis, made once per process."""
    if not separate_jobs(_settings):
        return _redis()
    if not _state_redis:
        _state_redis.append(connect(_settings))
    return _state_redis[0]


def record_call(payload: dict[str, Any], kind: str = "call_end") -> dict[str, Any]:
    """Archive a finished call: its row from the stored state and every transcript turn.

    Reads the call's state (``ivr:call:{sid}``, field ``state``) and transcript
    (``ivr:transcript:{sid}``) from Redis; the payload's outcome and time win over the
    stored state's, and so does its reason when it has one (a lost call's, :mod:`ivr.jobs.lost`).
    """
    p = _checked(kind, payload, ("sid", "flow", "at"))
    conn = state_redis()
    raw_state = conn.hget(CALL.format(p["sid"]), "state")
    if raw_state is None and adopt_legacy(conn, p["sid"]):  # ended before the upgrade
        raw_state = conn.hget(CALL.format(p["sid"]), "state")
    state = json.loads(raw_state) if raw_state else {}
    turns = [json.loads(x) for x in conn.lrange(TRANSCRIPT.format(p["sid"]), 0, -1)]
    turns = [t for t in turns if isinstance(t, dict) and isinstance(t.get("turn"), int)]
    if not turns:
        log.warning("call %s: no transcript in Redis (expired?); archiving the call only",
                    p["sid"])
    call = {"sid": p["sid"], "flow": p["flow"],
            "version": p.get("version") or state.get("version", ""),
            "caller": state.get("caller", ""), "outcome": p.get("outcome") or
            state.get("outcome", ""), "reason": p.get("reason") or state.get("reason", ""),
            "path": state.get("path", []), "started": state.get("started", ""),
            "ended": p["at"]}
    count = _write(kind, lambda: archive().record_call(call, turns))
    _remember(conn, call, state)
    return {"sid": p["sid"], "turns": count}


def _remember(conn: redis.Redis, call: dict[str, Any], state: dict[str, Any]) -> None:
    """Add the call to its caller's history (for the next call's whisper)."""
    try:
        at = datetime.fromisoformat(str(call["ended"]))
    except ValueError:
        return
    history.remember(conn, str(call["caller"]), str(call["sid"]), history.topic_of(state),
                     at, caller_secret(conn))


def _no_retry(exc: E) -> E:
    """``exc``, with the running job's retries spent: it fails once, for a person."""
    current = get_current_job()
    if current is not None:
        current.retries_left = 0
    return exc


def _write(kind: str, write: Callable[[], T]) -> T:
    """Run an archive write; bad values (a time that is not ISO, ...) fail without retries."""
    try:
        return write()
    except (ValueError, TypeError) as exc:
        raise _no_retry(PayloadError(kind, f"{type(exc).__name__}: {exc}")) from exc


def inbox_item(payload: dict[str, Any], kind: str = "inbox") -> dict[str, Any]:
    """Archive an "other" capture (what the caller said that no menu option matched) into
    the call's one inbox item; a second capture in the call joins it (per-turn job ids)."""
    p = _checked(kind, payload, ("sid", "flow", "at"))
    current = get_current_job()  # its id tells this capture from the call's others
    _write(kind, lambda: archive().add_inbox(p, current.id if current else ""))
    return {"sid": p["sid"]}


def callback_request(payload: dict[str, Any], kind: str = "callback") -> dict[str, Any]:
    """Archive a voicemail / callback request for a person to work through."""
    p = _checked(kind, payload, ("sid", "flow", "at"))
    _write(kind, lambda: archive().add_callback(p))
    return {"sid": p["sid"]}


def notify_ops(payload: dict[str, Any], kind: str = "") -> dict[str, Any]:
    """POST a redacted JSON summary to ``settings.ops_webhook_url`` (skipped when unset).

    Raises:
        urllib.error.URLError: The hook failed or answered >= 400 (RQ retries, then the
            job waits in the failed registry for ``ivr jobs retry``).
    """
    p = _checked(kind or "notify", payload, ("sid",))
    url = _settings.ops_webhook_url
    if not url:
        return {"sid": p["sid"], "skipped": True}
    if not url.startswith(("http://", "https://")):
        raise _no_retry(PayloadError("notify", f"ops_webhook_url {url!r} is not http(s)"))
    body = scrub({"event": kind, "sid": p["sid"], "flow": p.get("flow", ""),
                  "caller": mask_number(str(p.get("caller") or "")),
                  "said": p.get("said") or p.get("reason") or "", "state": p.get("state", ""),
                  "recording": p.get("recording", ""), "at": p.get("at", "")})
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "ivr-jobs"})
    with urllib.request.urlopen(request, timeout=NOTIFY_HTTP_TIMEOUT) as response:
        return {"sid": p["sid"], "status": int(response.status)}

