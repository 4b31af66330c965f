"""The outbox drainer: moves a call's committed jobs from ``ivr:outbox:{CallSid}`` to RQ.

A turn's jobs are written by the turn's own compare-and-set (:meth:`ivr.store.calls.Store.
advance`) as JSON entries ``{"id": "t7-0", "kind", "payload"}`` (turn 7, first job), so
they exist exactly when the turn does. :func:`drain` moves them:

1. one pipelined round trip: mark the call in the index ``ivr:outboxes`` (ZADD, score:
   now in µs) and read the outbox (LRANGE);
2. each entry goes to RQ through :func:`ivr.jobs.enqueue.enqueue`, under the ids
   ``{CallSid}-t7-0-{suffix}`` with ``unique=True``: a job moved before is a
   DuplicateJobError, i.e. a no-op (one round trip per RQ job);
3. one pipelined round trip: LREM each moved entry (by value; every entry is unique) and
   drop the index mark if it is still ours (the score did not change, i.e. no other drain
   began since).

So a turn with one job costs the drain 1 + 2 + 1 round trips (rq's unique enqueue is two:
its queue registration and its Lua script), with two jobs 1 + 4 + 1; the turn itself
stays at two (``bench/webhook.py`` counts them).

A crash anywhere leaves the entries (and usually the mark) in place, and the next drain
moves them again without duplicates. Drains run after the webhook's response is sent
(:func:`ivr.server.voice.drain_after`: also on a later turn that sees entries left
behind) and in
``ivr worker`` (:func:`drain_pending`: the index at each maintenance run, plus a SCAN of
``ivr:outbox:{*}`` at start and every :data:`SCAN_EVERY` runs).

The outbox and its index are in the call-state Redis (the outbox is in its call's slot);
the jobs go to the jobs Redis (``jobs``: ``jobs_redis_url``, the same Redis when unset).
On a cluster the index is one key (one slot) and the SCAN visits every primary.

Why an index written after the commit and a SCAN: Redis Cluster forbids cross-slot keys in
a script, and the outbox is in its call's slot, so a global index cannot be written by the
commit. Written afterwards it misses the call whose web process died between the commit
and its drain's first round trip; the SCAN finds those. Outbox keys exist only while
something is pending, so the SCAN finds exactly the calls that need a drain.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import cast

import redis

from ivr.config import Settings
from ivr.jobs.enqueue import enqueue, spool_dir
from ivr.runtime.actions import Job
from ivr.store.connection import is_cluster
from ivr.store.keys import OUTBOX, OUTBOXES, sid_of

log = logging.getLogger(__name__)
SCAN_EVERY = 5
"""``ivr worker`` SCANs for outboxes at start and at every SCAN_EVERY-th maintenance run."""

# Drop the index mark of a call only if nobody marked it again since we read it.
_UNMARK = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""
_UNMARK_SHA = hashlib.sha1(_UNMARK.encode(), usedforsecurity=False).hexdigest()


def drain(conn: redis.Redis, sid: str, settings: Settings | None = None,
          mark: float | None = None, jobs: redis.Redis | None = None) -> int:
    """Move call ``sid``'s outbox entries to RQ, then remove them; return how many moved.

    Args:
        conn: The call-state Redis, holding the outbox.
        jobs: The Redis of RQ's queues (default ``conn``).
        sid: The CallSid.
        settings: ``job_retry_intervals`` and ``spool_dir`` (where a malformed entry is
            kept as a ``.bad`` file for a person).
        mark: The index score the caller read (the worker's sweep). None: mark the call in
            the index now (the web process), so a crash mid-drain is found by the index.

    Raises:
        redis.RedisError: Redis failed; the entries not yet removed stay for the next drain.
    """
    key = OUTBOX.format(sid)
    pipe = conn.pipeline(transaction=False)
    if mark is None:
        mark = float(time.time_ns() // 1000)
        pipe.zadd(OUTBOXES, {sid: mark})
    pipe.lrange(key, 0, -1)
    entries: list[bytes] = pipe.execute()[-1]
    done: list[bytes] = []
    try:
        for raw in entries:
            _move(jobs or conn, sid, raw, settings)
            done.append(raw)
    finally:
        _remove(conn, sid, done, mark if len(done) == len(entries) else None)
    return len(done)


def _remove(conn: redis.Redis, sid: str, done: list[bytes], mark: float | None) -> None:
    """One round trip: LREM the moved entries and, when ``mark`` is given, drop the
    index mark if it is still that one. EVALSHA in the pipeline (a Script object would
    cost a SCRIPT EXISTS round trip each time); EVAL once if Redis lost the script. A
    cluster pipeline refuses scripts: there the EVALSHA is a second command."""
    pipe = conn.pipeline(transaction=False)
    for raw in done:
        pipe.lrem(OUTBOX.format(sid), 1, raw)  # type: ignore[arg-type]  # bytes are fine
    if not done and mark is None:
        return
    apart = mark is not None and is_cluster(conn)
    if mark is not None and not apart:
        pipe.evalsha(_UNMARK_SHA, 1, OUTBOXES, sid, mark)
    replies = pipe.execute(raise_on_error=False) if done or not apart else []
    if apart:
        try:
            replies.append(conn.evalsha(_UNMARK_SHA, 1, OUTBOXES, sid, mark))  # type: ignore[arg-type]
        except redis.exceptions.NoScriptError as exc:
            replies.append(exc)
    if mark is not None and isinstance(replies[-1], redis.exceptions.NoScriptError):
        conn.eval(_UNMARK, 1, OUTBOXES, sid, mark)
    errors = [r for r in replies if isinstance(r, Exception)
              and not isinstance(r, redis.exceptions.NoScriptError)]
    if errors:
        raise errors[0]


def _move(jobs: redis.Redis, sid: str, raw: bytes, settings: Settings | None) -> None:
    """One outbox entry to RQ (a malformed one is set aside, never retried forever)."""
    try:
        entry = json.loads(raw)
        job, tag = Job(str(entry["kind"]), dict(entry["payload"])), str(entry["id"])
    except (ValueError, KeyError, TypeError) as exc:
        log.error("call %s: malformed outbox entry (%s) kept as a .bad spool file: %r", sid,
                  exc, raw[:300])
        _keep_bad(sid, raw, settings)
        return
    enqueue(jobs, job, settings, tag)


def _keep_bad(sid: str, raw: bytes, settings: Settings | None) -> None:
    directory = spool_dir(settings)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{time.time_ns()}-outbox-{sid[:64]}.bad").write_bytes(raw)
    except OSError:
        log.exception("could not keep the malformed outbox entry of %s", sid)


def drain_quietly(conn: redis.Redis, sid: str, settings: Settings | None = None,
                  jobs: redis.Redis | None = None) -> None:
    """:func:`drain` for the web process: failures are logged, never raised (the call has
    its response already; the entries wait for the next drain)."""
    try:
        drain(conn, sid, settings, jobs=jobs)
    except Exception as exc:  # noqa: BLE001 - the worker's sweep moves what is left
        log.warning("outbox of %s not drained (%s); ivr worker will move it", sid, exc)


def drain_pending(conn: redis.Redis, settings: Settings | None = None,
                  scan: bool = True, jobs: redis.Redis | None = None) -> int:
    """Drain every call in the index, and with ``scan`` every outbox a SCAN finds
    (``conn``: the call-state Redis; ``jobs``: RQ's, default ``conn``).

    Returns:
        How many entries were moved. A call whose drain fails is logged and skipped; a
        connection error stops the sweep (the next one starts over).
    """
    seen: set[str] = set()
    moved = 0
    try:
        marked = cast(list[tuple[bytes, float]], conn.zrange(OUTBOXES, 0, -1, withscores=True))
        for member, score in marked:
            sid = member.decode() if isinstance(member, bytes) else str(member)
            seen.add(sid)
            moved += _drain_logged(conn, sid, settings, float(score), jobs)
        if scan:
            for key in conn.scan_iter(OUTBOX.format("*"), count=500):
                sid = sid_of(key, OUTBOX)
                if sid and sid not in seen:
                    seen.add(sid)
                    moved += _drain_logged(conn, sid, settings, None, jobs)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("outbox sweep stopped: %s", exc)
    return moved


def _drain_logged(conn: redis.Redis, sid: str, settings: Settings | None,
                  mark: float | None, jobs: redis.Redis | None) -> int:
    try:
        return drain(conn, sid, settings, mark, jobs)
    except (redis.ConnectionError, redis.TimeoutError):
        raise
    except Exception:  # noqa: BLE001 - one call's trouble must not stop the others
        log.exception("outbox of %s not drained", sid)
        return 0
