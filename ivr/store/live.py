"""The index of calls in progress the console's live page reads (``ivr:live:{bN}``).

Why an index, in buckets, written with the turn (one Redis) or after it (a cluster):

- A SCAN of ``ivr:call:{*}`` costs what the whole keyspace costs (transcripts, jobs,
  results) and on a cluster must visit every primary; the index costs what the calls in
  progress cost.
- On one Redis the turn's compare-and-set writes it (:func:`in_commit`): a call's first
  turn and its last are noted atomically with the commit, and the turn stays at two round
  trips with nothing after the response. On a cluster the script cannot: the index is in
  another slot than the call (CROSSSLOT), so it is written by a separate command once the
  response has been sent (:func:`note`, from :func:`ivr.server.voice.drain_after`), like
  the outbox drain: the caller never waits for it.
- :data:`~ivr.store.keys.LIVE_BUCKETS` sorted sets by a CRC of the CallSid, not one: one
  key would be one node's hot spot, and losing that node would hide every call. A dead
  node hides only its buckets' calls.
- On a cluster it may lag: a web process killed between the commit and the index write
  leaves a call out (it is still served; the worker's sweep does not need the index).
  Everywhere an entry whose call expired is dropped by the reader. Ended calls move to
  ``ivr:ended:{bN}`` (same slot), kept ``call_ttl`` seconds for "show ended calls".
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterable
from typing import Any

import redis

from ivr.store.connection import is_cluster
from ivr.store.keys import ANSWERED, ENDED, LIVE, LIVE_BUCKETS

log = logging.getLogger(__name__)


def _pipeline(conn: redis.Redis) -> Any:
    """MULTI on one Redis; on a cluster a plain pipeline (to the bucket's one node: redis-py
    before 6 has no cluster transactions, and a moment between the two writes is harmless)."""
    return conn.pipeline(transaction=not is_cluster(conn))


def bucket(sid: str) -> int:
    """The index bucket of ``sid`` (the same in every process: CRC-32, not ``hash``)."""
    return zlib.crc32(sid.encode()) % LIVE_BUCKETS


def started(conn: redis.Redis, sid: str, at: float | None = None) -> None:
    """Add call ``sid`` to the index (idempotent: the first start time is kept)."""
    conn.zadd(LIVE.format(bucket(sid)), {sid: at or time.time()}, nx=True)


def ended(conn: redis.Redis, sid: str, keep: int, at: float | None = None) -> None:
    """Move call ``sid`` from the live index to the recently ended one (kept ``keep`` s)."""
    now = at or time.time()
    b = bucket(sid)
    pipe = _pipeline(conn)  # one slot: LIVE and ENDED of b share its tag, one round trip
    pipe.zrem(LIVE.format(b), sid)
    pipe.zadd(ENDED.format(b), {sid: now})
    pipe.zremrangebyscore(ENDED.format(b), "-inf", now - keep)
    pipe.expire(ENDED.format(b), keep)
    pipe.execute()


def changes(is_ended: bool, turn: int) -> bool:
    """Whether a committed turn changes the index: the call's first turn, or its end."""
    return is_ended or turn == 1


NOTHING: tuple[str, ...] = ("",)
"""The script's ``ARGV[7]`` when a turn changes nothing in the index (its jobs follow)."""


def in_commit(sid: str, is_ended: bool, turn: int, keep: int, keys: list[str],
              at: float | None = None) -> tuple[str, ...]:
    """The live-index part of the turn's compare-and-set on one Redis (not a cluster: these
    keys are in other slots than the call's): the script's ``ARGV[7..10]`` (what, when,
    the CallSid, the ended index's cutoff), or only ``ARGV[7] = ''`` (:data:`NOTHING`) for
    a turn that is neither a call's first nor its end (most turns: three arguments fewer
    to encode and send); when there is something to note, the index's two keys are
    appended to ``keys``. Same writes as :func:`started` / :func:`ended`."""
    if not changes(is_ended, turn):
        return NOTHING
    now = at or time.time()
    b = bucket(sid)
    keys += [LIVE.format(b), ENDED.format(b)]
    return ("end" if is_ended else "start", repr(now), sid, repr(now - keep))


def note(conn: redis.Redis, sid: str, is_ended: bool, keep: int) -> None:
    """:func:`started` or :func:`ended` for the web process, once the response is sent:
    a failure is logged, never raised (the page lags, the call goes on)."""
    try:
        if is_ended:
            ended(conn, sid, keep)
        else:
            started(conn, sid)
    except Exception as exc:  # noqa: BLE001 - the response is sent; only the page lags
        log.warning("live-call index not updated for %s: %s", sid, exc)


def members(conn: redis.Redis, with_ended: bool, limit: int) -> list[str]:
    """CallSids of the index, oldest start first; buckets on a node that does not answer
    are skipped (logged): the page shows what it can."""
    sids: list[str] = []
    templates = (LIVE, ENDED) if with_ended else (LIVE,)
    for template in templates:
        for b in range(LIVE_BUCKETS):
            try:
                got = conn.zrange(template.format(b), 0, limit - 1)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("live-call index bucket %d unavailable: %s", b, exc)
                continue
            sids += [m.decode() if isinstance(m, bytes) else str(m) for m in got]
    return list(dict.fromkeys(sids))[:limit * len(templates)]


def starts(conn: redis.Redis, sids: list[str]) -> dict[str, float]:
    """When each call of ``sids`` still in progress started (epoch seconds, the wall clock
    of the web process that took its first turn; ended calls are not in it). The console
    measures durations from this, not from the call's ``started``, which is the flow's
    clock: a fixed ``clock`` setting (tests, demos) holds that still for business hours."""
    if not sids:
        return {}
    pipe = conn.pipeline(transaction=False)
    for sid in sids:
        pipe.zscore(LIVE.format(bucket(sid)), sid)
    try:
        got = pipe.execute(raise_on_error=False)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("live-call start times unavailable: %s", exc)
        return {}
    return {sid: float(v) for sid, v in zip(sids, got, strict=True)
            if isinstance(v, (int, float))}


def forget(conn: redis.Redis, sids: Iterable[str]) -> None:
    """Drop entries whose call expired from both indexes (best effort)."""
    for sid in sids:
        b = bucket(sid)
        try:
            pipe = _pipeline(conn)
            pipe.zrem(LIVE.format(b), sid)
            pipe.zrem(ENDED.format(b), sid)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("live-call index entry %s not dropped: %s", sid, exc)


def answered(conn: redis.Redis, sid: str, keep: int) -> None:
    """Note that a person answered call ``sid`` (their leg asked for the whisper): only the
    console reads it, so a failure is logged, never raised (the call connects anyway)."""
    try:
        conn.set(ANSWERED.format(sid), int(time.time()), ex=keep, nx=True)
    except Exception as exc:  # noqa: BLE001 - the agent's leg must connect regardless
        log.warning("answered mark not written for %s: %s", sid, exc)
