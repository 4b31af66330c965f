"""Hand :class:`~ivr.runtime.actions.Job` effects to RQ: the routes, ids and retries, and
the disk spool for jobs that are in no outbox.

A turn's jobs do not come through here directly: the turn's compare-and-set commits them
to the call's outbox and :mod:`ivr.jobs.outbox` moves them with :func:`enqueue`, under
ids ``{CallSid}-t{turn}-{n}-{suffix}`` (``unique=True``), so a repeated move is a no-op.

:func:`submit` is for jobs that belong to no turn (the transcription callback): it is
fast and never raises; each job is enqueued with a deterministic id
(``{CallSid}[-{tag}]-{suffix}``, ``unique=True``) so a duplicate webhook never enqueues
twice, and when Redis is down the job is written to a local spool directory instead, which
:func:`drain_spool` (``ivr worker`` at start and at each maintenance, the web app at start)
puts back later. Jobs use the JSON serializer (never pickle), an explicit timeout and
``Retry(max=3, interval=[1, 5, 30])``; the job functions themselves are idempotent
(upserts keyed by CallSid, turn and capture), so a re-run after a crash writes nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

from ivr.config import Settings
from ivr.runtime.actions import Job

log = logging.getLogger(__name__)

JOB_QUEUE = "ivr"
NOTIFY_JOB_QUEUE = "ivr-notify"
JOB_QUEUES = (JOB_QUEUE, NOTIFY_JOB_QUEUE)
RETRY_INTERVALS = (1, 5, 30)
JOB_TIMEOUT = 60
NOTIFY_TIMEOUT = 30
RESULT_TTL = 24 * 3600
DEFAULT_SPOOL = "var/spool"
MAINTENANCE_INTERVAL = 120
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


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
    "call_end": (Route("ivr.jobs.tasks.record_call", JOB_QUEUE, "record", JOB_TIMEOUT),),
    "inbox": (Route("ivr.jobs.tasks.inbox_item", JOB_QUEUE, "inbox", JOB_TIMEOUT),
              Route("ivr.jobs.tasks.notify_ops", NOTIFY_JOB_QUEUE, "notify-inbox", NOTIFY_TIMEOUT)),
    "inbox_words": (Route("ivr.jobs.tasks.inbox_item", JOB_QUEUE, "inbox-words", JOB_TIMEOUT),),
    "callback": (Route("ivr.jobs.tasks.callback_request", JOB_QUEUE, "callback", JOB_TIMEOUT),
                 Route("ivr.jobs.tasks.notify_ops", NOTIFY_JOB_QUEUE, "notify-callback",
                       NOTIFY_TIMEOUT),
                 Route("ivr.jobs.callbacks.place_callback", JOB_QUEUE, "place", JOB_TIMEOUT,
                       at="promise")),
    # a machine, nobody or a busy line answered a callback: maybe another try
    "callback_retry": (Route("ivr.jobs.callbacks.retry_callback", JOB_QUEUE, "retry",
                             JOB_TIMEOUT),),
    "callback_again": (Route("ivr.jobs.callbacks.place_callback", JOB_QUEUE, "place",
                             JOB_TIMEOUT, at="promise"),),
}


def job_id(sid: str, suffix: str, tag: str = "") -> str:
    """The idempotency key of a job: ``{CallSid}[-{tag}]-{suffix}``, only RQ-safe characters.

    ``tag`` tells apart jobs of one kind in one call: the outbox entry (``t7-0``: turn 7,
    first job) or the recording a transcription is of.
    """
    tagged = f"{_ID_UNSAFE.sub('_', tag)[:40]}-{suffix}" if tag else suffix
    return f"{_ID_UNSAFE.sub('_', sid)[:64] or 'nosid'}-{tagged}"


def spool_dir(settings: Settings | None) -> Path:
    """The spool directory: ``settings.spool_dir`` when set, else ``var/spool``."""
    return Path(settings.spool_dir if settings and settings.spool_dir else DEFAULT_SPOOL)


def retry_policy(settings: Settings | None = None) -> Retry:
    """``Retry(max=3, interval=[1, 5, 30])``; ``settings.job_retry_intervals`` overrides."""
    intervals = list(settings.job_retry_intervals if settings and settings.job_retry_intervals
                     else RETRY_INTERVALS)
    return Retry(max=3, interval=intervals)


def submit(conn: redis.Redis, jobs: Iterable[Job], settings: Settings | None = None,
           tag: str = "") -> None:
    """Enqueue ``jobs`` that belong to no turn to RQ; spool them to disk when Redis fails.
    Never raises. (A turn's jobs go through the call's outbox instead: :mod:`ivr.jobs.outbox`.)

    Once Redis takes them, this host's spool is drained too: a web host with no worker of
    its own (workers on other hosts cannot see its disk) gets earlier spooled jobs back
    into RQ without waiting for its next start.

    Args:
        conn: The Redis connection (give it a short ``socket_timeout``: this runs in a request).
        jobs: Job effects (other actions are ignored).
        settings: Optional settings; ``spool_dir`` and ``job_retry_intervals`` are read.
        tag: Part of the job ids (see :func:`job_id`); kept in the spool file.
    """
    redis_down = False
    for job in jobs:
        if not isinstance(job, Job):
            continue
        if redis_down:
            _spool(job, settings, tag)
            continue
        try:
            enqueue(conn, job, settings, tag)
        except Exception as exc:  # noqa: BLE001 - a call turn must never fail because of RQ
            log.warning("enqueue of %s job failed (%s); spooling it", job.kind, exc)
            redis_down = isinstance(exc, redis.ConnectionError | redis.TimeoutError)
            _spool(job, settings, tag)
    if not redis_down:
        _drain_quietly(conn, settings)


def _drain_quietly(conn: redis.Redis, settings: Settings | None) -> None:
    try:
        drained = drain_spool(conn, spool_dir(settings), settings)
    except Exception as exc:  # noqa: BLE001 - the next submit, start or worker tries again
        log.warning("spool not drained: %s", exc)
        return
    if drained:
        log.info("re-enqueued %d spooled job(s)", drained)


def enqueue(conn: redis.Redis, job: Job, settings: Settings | None, tag: str = "") -> int:
    """Put ``job``'s RQ jobs (its :data:`ROUTES`) on their queues, each with a unique id
    (:func:`job_id`); a job already there (DuplicateJobError) is left as it is.

    Returns:
        How many RQ jobs were new (0: unknown kind, or every one enqueued before).

    Raises:
        redis.RedisError: Redis failed (some of the routes may be enqueued already).
    """
    routes = ROUTES.get(job.kind)
    if routes is None:
        log.error("unknown job kind %r dropped: %s", job.kind, json.dumps(job.payload)[:200])
        return 0
    sid = str(job.payload.get("sid") or "")
    new = 0
    for route in routes:
        queue = Queue(route.queue, connection=conn, serializer=JSONSerializer)
        if route.at:
            new += _schedule(queue, route, job, settings, tag)
            continue
        jid = job_id(sid, route.suffix, tag)
        try:  # unique=True: rq checks and enqueues in one Lua script (one round trip)
            queue.enqueue_call(route.func, args=(job.payload, job.kind), timeout=route.timeout,
                               result_ttl=RESULT_TTL, job_id=jid, retry=retry_policy(settings),
                               unique=True)
            new += 1
        except DuplicateJobError:
            log.debug("job %s already enqueued", jid)
    return new


def _schedule(queue: Queue, route: Route, job: Job, settings: Settings | None,
              tag: str) -> int:
    """Enqueue ``route`` at the payload's ``route.at`` time (skipped when it has none)."""
    raw = job.payload.get(route.at)
    if not raw:
        return 0
    try:
        at = datetime.fromisoformat(str(raw))
    except ValueError:
        log.error("%s job dropped: %s %r is not an ISO time", route.func, route.at, raw)
        return 0
    jid = job_id(str(job.payload.get("sid") or ""), route.suffix, tag)
    try:
        queue.enqueue_at(at if at.tzinfo else at.replace(tzinfo=UTC), route.func,
                         job.payload, job.kind, job_timeout=route.timeout, job_id=jid,
                         result_ttl=RESULT_TTL, retry=retry_policy(settings), unique=True)
    except DuplicateJobError:
        log.debug("job %s already scheduled", jid)
        return 0
    return 1


def _spool(job: Job, settings: Settings | None, tag: str = "") -> None:
    try:
        write_spool(spool_dir(settings), job, tag)
    except Exception:  # noqa: BLE001 - last resort: the log is all that is left
        log.exception("could not spool %s job: %s", job.kind, json.dumps(job.payload,
                                                                          default=str)[:500])


def write_spool(directory: Path, job: Job, tag: str = "") -> Path:
    """Write ``job`` (and its id ``tag``) as one JSON file in ``directory`` (atomically:
    temp file, then rename).

    Returns:
        The path of the spooled file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    sid = _ID_UNSAFE.sub("_", str(job.payload.get("sid") or "nosid"))[:64]
    name = f"{time.time_ns()}-{os.getpid()}-{sid}-{_ID_UNSAFE.sub('_', job.kind)}.json"
    tmp = directory / f".{name}.tmp"
    data = {"kind": job.kind, "payload": job.payload, **({"tag": tag} if tag else {})}
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, directory / name)
    return directory / name


def drain_spool(conn: redis.Redis, directory: str | Path,
                settings: Settings | None = None) -> int:
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
            tag = str(data.get("tag") or "")
        except FileNotFoundError:
            continue  # another worker drained it first
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("bad spool file %s (%s): kept as .bad", file, exc)
            file.replace(file.with_suffix(".bad"))
            continue
        enqueue(conn, job, settings, tag)  # ids are unique: two drainers enqueue it once
        file.unlink(missing_ok=True)
        done += 1
    return done


def job_queues(conn: redis.Redis) -> list[Queue]:
    """The RQ job queues, in the order workers take from them."""
    return [Queue(name, connection=conn, serializer=JSONSerializer) for name in JOB_QUEUES]
