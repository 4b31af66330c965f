"""After the call: hand the engine's :class:`~ivr.verbs.Job` effects to RQ, and lose nothing.

:func:`submit` runs inside a webhook turn, so it is fast and never raises: each job is
enqueued with a deterministic id (``{CallSid}-{kind}``, ``unique=True``) so a duplicate
webhook delivery never enqueues twice; when Redis is down the job is written to a local
spool directory instead, and :func:`drain_spool` (run by ``ivr worker`` at start) puts it
back later. Jobs use the JSON serializer (never pickle), an explicit timeout and
``Retry(max=3, interval=[1, 5, 30])``; the job functions themselves are idempotent
(upserts keyed by CallSid), so a re-run after a crash writes nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import redis
from rq import Queue, Retry, get_current_job
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

from ivr.archive import DEFAULT_PATH as DEFAULT_ARCHIVE
from ivr.archive import Archive, scrub
from ivr.redact import mask_number
from ivr.verbs import Job

log = logging.getLogger(__name__)

QUEUE = "ivr"
NOTIFY_QUEUE = "ivr-notify"
QUEUES = (QUEUE, NOTIFY_QUEUE)
RETRY_INTERVALS = (1, 5, 30)
JOB_TIMEOUT = 60
NOTIFY_TIMEOUT = 30
NOTIFY_HTTP_TIMEOUT = 10
RESULT_TTL = 24 * 3600
DEFAULT_SPOOL = "var/spool"
MAINTENANCE_INTERVAL = 120
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """Where one engine job kind goes: the RQ function, its queue, id suffix and timeout."""

    func: str
    queue: str
    suffix: str
    timeout: int
    at: str = ""  # payload key of an ISO time: scheduled then, and only for payloads with it


#: Engine job kind -> the RQ jobs it becomes (ops are told about inbox items and callbacks).
ROUTES: dict[str, tuple[Route, ...]] = {
    "call_end": (Route("ivr.jobs.record_call", QUEUE, "record", JOB_TIMEOUT),),
    "inbox": (Route("ivr.jobs.inbox_item", QUEUE, "inbox", JOB_TIMEOUT),
              Route("ivr.jobs.notify_ops", NOTIFY_QUEUE, "notify-inbox", NOTIFY_TIMEOUT)),
    "inbox_words": (Route("ivr.jobs.inbox_item", QUEUE, "inbox-words", JOB_TIMEOUT),),
    "callback": (Route("ivr.jobs.callback_request", QUEUE, "callback", JOB_TIMEOUT),
                 Route("ivr.jobs.notify_ops", NOTIFY_QUEUE, "notify-callback", NOTIFY_TIMEOUT),
                 Route("ivr.queue_jobs.place_callback", QUEUE, "place", JOB_TIMEOUT,
                       at="promise")),
}


def job_id(sid: str, suffix: str) -> str:
    """The idempotency key of a job: ``{CallSid}-{suffix}`` with only RQ-safe characters."""
    return f"{_ID_UNSAFE.sub('_', sid)[:64] or 'nosid'}-{suffix}"


def spool_dir(settings: object | None) -> Path:
    """The spool directory: ``settings.spool_dir`` when set, else ``var/spool``."""
    return Path(getattr(settings, "spool_dir", None) or DEFAULT_SPOOL)


def retry_policy(settings: object | None = None) -> Retry:
    """``Retry(max=3, interval=[1, 5, 30])``; ``settings.job_retry_intervals`` overrides."""
    intervals = list(getattr(settings, "job_retry_intervals", None) or RETRY_INTERVALS)
    return Retry(max=3, interval=intervals)


def submit(conn: redis.Redis, jobs: Iterable[Job], settings: object | None = None) -> None:
    """Enqueue the engine's ``jobs`` to RQ; spool them to disk when Redis fails. Never raises.

    Args:
        conn: The Redis connection (give it a short ``socket_timeout``: this runs in a turn).
        jobs: Job effects from :func:`ivr.engine.step` (other actions are ignored).
        settings: Optional settings; ``spool_dir`` and ``job_retry_intervals`` are read.
    """
    redis_down = False
    for job in jobs:
        if not isinstance(job, Job):
            continue
        if redis_down:
            _spool(job, settings)
            continue
        try:
            _enqueue(conn, job, settings)
        except Exception as exc:  # noqa: BLE001 - a call turn must never fail because of RQ
            log.warning("enqueue of %s job failed (%s); spooling it", job.kind, exc)
            redis_down = isinstance(exc, redis.ConnectionError | redis.TimeoutError)
            _spool(job, settings)


def _enqueue(conn: redis.Redis, job: Job, settings: object | None) -> None:
    routes = ROUTES.get(job.kind)
    if routes is None:
        log.error("unknown job kind %r dropped: %s", job.kind, json.dumps(job.payload)[:200])
        return
    sid = str(job.payload.get("sid") or "")
    pipe = conn.pipeline()
    for route in routes:
        queue = Queue(route.queue, connection=conn, serializer=JSONSerializer)
        if route.at:
            _schedule(queue, route, job, settings)
            continue
        try:
            queue.enqueue_call(route.func, args=(job.payload, job.kind), timeout=route.timeout,
                               result_ttl=RESULT_TTL, job_id=job_id(sid, route.suffix),
                               retry=retry_policy(settings), pipeline=pipe, unique=True)
        except DuplicateJobError:
            log.debug("job %s already enqueued", job_id(sid, route.suffix))
    pipe.execute()


def _schedule(queue: Queue, route: Route, job: Job, settings: object | None) -> None:
    """Enqueue ``route`` at the payload's ``route.at`` time (skipped when it has none)."""
    raw = job.payload.get(route.at)
    if not raw:
        return
    try:
        at = datetime.fromisoformat(str(raw))
    except ValueError:
        log.error("%s job dropped: %s %r is not an ISO time", route.func, route.at, raw)
        return
    jid = job_id(str(job.payload.get("sid") or ""), route.suffix)
    try:
        queue.enqueue_at(at if at.tzinfo else at.replace(tzinfo=UTC), route.func,
                         job.payload, job.kind, job_timeout=route.timeout, job_id=jid,
                         result_ttl=RESULT_TTL, retry=retry_policy(settings), unique=True)
    except DuplicateJobError:
        log.debug("job %s already scheduled", jid)


def _spool(job: Job, settings: object | None) -> None:
    try:
        write_spool(spool_dir(settings), job)
    except Exception:  # noqa: BLE001 - last resort: the log is all that is left
        log.exception("could not spool %s job: %s", job.kind, json.dumps(job.payload,
                                                                          default=str)[:500])


def write_spool(directory: Path, job: Job) -> Path:
    """Write ``job`` as one JSON file in ``directory`` (atomically: temp file, then rename).

    Returns:
        The path of the spooled file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    sid = _ID_UNSAFE.sub("_", str(job.payload.get("sid") or "nosid"))[:64]
    name = f"{time.time_ns()}-{os.getpid()}-{sid}-{_ID_UNSAFE.sub('_', job.kind)}.json"
    tmp = directory / f".{name}.tmp"
    tmp.write_text(json.dumps({"kind": job.kind, "payload": job.payload}, default=str))
    os.replace(tmp, directory / name)
    return directory / name


def drain_spool(conn: redis.Redis, directory: str | Path,
                settings: object | None = None) -> int:
    """Re-enqueue every spooled job in ``directory``, oldest first; return how many.

    A file is removed only once its jobs are in Redis; a file that is not a job is renamed
    ``*.bad`` so it is kept for a person but not retried forever. Redis errors propagate.
    """
    path = Path(directory)
    if not path.is_dir():
        return 0
    done = 0
    for file in sorted(path.glob("*.json")):
        try:
            data = json.loads(file.read_text())
            job = Job(str(data["kind"]), dict(data["payload"]))
        except FileNotFoundError:
            continue  # another worker drained it first
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("bad spool file %s (%s): kept as .bad", file, exc)
            file.replace(file.with_suffix(".bad"))
            continue
        _enqueue(conn, job, settings)  # ids are unique: two drainers enqueue it once
        file.unlink(missing_ok=True)
        done += 1
    return done



# --- the job functions (run by ``ivr worker``) ------------------------------------------

_settings: object | None = None


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


def configure(settings: object | None) -> None:
    """Give the job functions the worker's settings (archive path, ops webhook, spool)."""
    global _settings
    _settings = settings


def setting(name: str, default: Any = None) -> Any:
    """A configured setting, or ``default`` when unset or empty."""
    return getattr(_settings, name, None) or default


def archive() -> Archive:
    """The archive named by ``settings.archive_path`` (default ``var/archive.db``)."""
    return Archive(setting("archive_path", DEFAULT_ARCHIVE), setting("caller_key_secret", ""))


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


def _redis() -> redis.Redis:
    current = get_current_job()
    if current is None:
        raise RuntimeError("record_call needs Redis: run it in an RQ worker")
    conn: redis.Redis = current.connection
    return conn


def record_call(payload: dict[str, Any], kind: str = "call_end") -> dict[str, Any]:
    """Archive a finished call: its row from the stored state and every transcript turn.

    Reads ``ivr:call:{sid}`` (field ``state``) and ``ivr:transcript:{sid}`` from Redis;
    the payload's outcome and time win over the stored state's.
    """
    p = _checked(kind, payload, ("sid", "flow", "at"))
    conn = _redis()
    raw_state = conn.hget(f"ivr:call:{p['sid']}", "state")
    state = json.loads(raw_state) if raw_state else {}
    turns = [json.loads(x) for x in conn.lrange(f"ivr:transcript:{p['sid']}", 0, -1)]
    turns = [t for t in turns if isinstance(t, dict) and isinstance(t.get("turn"), int)]
    if not turns:
        log.warning("call %s: no transcript in Redis (expired?); archiving the call only",
                    p["sid"])
    call = {"sid": p["sid"], "flow": p["flow"],
            "version": p.get("version") or state.get("version", ""),
            "caller": state.get("caller", ""), "outcome": p.get("outcome") or
            state.get("outcome", ""), "reason": state.get("reason", ""),
            "path": state.get("path", []), "started": state.get("started", ""),
            "ended": p["at"]}
    count = _write(kind, lambda: archive().record_call(call, turns))
    _remember(conn, call, state)
    return {"sid": p["sid"], "turns": count}


def _remember(conn: redis.Redis, call: dict[str, Any], state: dict[str, Any]) -> None:
    """Add the call to its caller's history (for the next call's whisper)."""
    from ivr import history

    try:
        at = datetime.fromisoformat(str(call["ended"]))
    except ValueError:
        return
    history.remember(conn, str(call["caller"]), str(call["sid"]), history.topic_of(state),
                     at, setting("caller_key_secret", ""))


def _no_retry(exc: PayloadError) -> PayloadError:
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
    """Archive an "other" capture (what the caller said that no menu option matched)."""
    p = _checked(kind, payload, ("sid", "flow", "at"))
    _write(kind, lambda: archive().add_inbox(p))
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
    url = str(setting("ops_webhook_url", ""))
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


def queues(conn: redis.Redis) -> list[Queue]:
    """The ivr queues, in the order workers take from them."""
    return [Queue(name, connection=conn, serializer=JSONSerializer) for name in QUEUES]


def current_settings() -> object | None:
    """The settings given to :func:`configure` (the worker's)."""
    return _settings
