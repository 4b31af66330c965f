"""Lost calls: calls whose status callback never came are closed as ``lost`` and archived.

Twilio ends every call with a status callback (``completed``, ``busy``...), which steps the
call to its end and commits its ``call_end`` job. When that callback never comes (Twilio
could not reach us, the web process died), the call would stay "active" on the live page
until its keys expire ``call_ttl`` seconds after its last turn, and it would never be
archived. :func:`sweep` (run by ``ivr worker`` at start and at every maintenance run,
:meth:`ivr.jobs.worker.Worker.drain`) closes such calls before that:

- It reads the live-call index (:mod:`ivr.store.live`) and, per call, the call key's
  remaining TTL: a call whose last turn is ``call_ttl - margin`` seconds old or more (the
  TTL is Redis's own clock, so a fixed ``clock`` setting does not matter) has had no
  status callback within its time and is lost. ``margin`` (``lost_margin``, default
  :data:`MARGIN`) leaves several maintenance runs before the key expires.
- It ends the call through the same path as a normal end: one turn committed by the
  call store's compare-and-set (``turn=None``, like the status callback), outcome
  ``lost`` with the reason, a transcript line and the ``call_end`` job in the call's
  outbox, drained to RQ at once (:func:`ivr.jobs.outbox.drain`); ``record_call`` archives
  it like any other call; the call moves to the index of ended calls.
- It is idempotent: two workers sweeping together both step, one commits, the other
  sees the call ended (:class:`~ivr.store.calls.Stale`) and does nothing; a status
  callback that arrives later finds the call ended and is ignored, so nothing is
  archived twice (and the ``call_end`` job ids are unique per call and turn).

A call whose keys expired before any sweep saw it (no worker ran for ``margin`` seconds)
cannot be archived (its state is gone): it is dropped from the index and counted in the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import redis

from ivr.config import Settings
from ivr.jobs import outbox
from ivr.runtime.actions import Job
from ivr.runtime.events import CallState
from ivr.store import live
from ivr.store.calls import Apply, Commit, Stale, Store, UnknownCall
from ivr.store.keys import CALL, LIVE, LIVE_BUCKETS, TRANSCRIPT

log = logging.getLogger(__name__)
OUTCOME = "lost"
MARGIN = 15 * 60
CHUNK = 500
"""Default seconds before a call's keys expire at which the sweep closes it as lost."""


@dataclass(frozen=True)
class Swept:
    """What one sweep did: calls closed as lost, and calls found already expired."""

    closed: list[str]
    expired: list[str]


def clock(seconds: float) -> str:
    """``h:mm:ss`` (``4:00:00``), or ``m:ss`` under an hour."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _sids(conn: redis.Redis) -> list[str]:
    """Every CallSid of the live index (buckets that do not answer are skipped, logged)."""
    out: list[str] = []
    for b in range(LIVE_BUCKETS):
        try:
            got = conn.zrange(LIVE.format(b), 0, -1)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("lost-call sweep: live index bucket %d unavailable: %s", b, exc)
            continue
        out += [m.decode() if isinstance(m, bytes) else str(m) for m in got]
    return out


def _ttls(conn: redis.Redis, sids: list[str]) -> Iterator[tuple[str, int]]:
    """(sid, seconds its call key has left; -2 when gone), pipelined :data:`CHUNK` at a
    time (a cluster pipeline sends each to its node)."""
    for i in range(0, len(sids), CHUNK):
        part = sids[i:i + CHUNK]
        pipe = conn.pipeline(transaction=False)
        for sid in part:
            pipe.ttl(CALL.format(sid))
        yield from zip(part, (int(x) for x in pipe.execute()), strict=True)


def _last_turn(conn: redis.Redis, sid: str, idle: int) -> str:
    """When the call's last turn was: its transcript's last line, else from the key's TTL."""
    raw = conn.lindex(TRANSCRIPT.format(sid), -1)
    try:
        at = json.loads(raw)["at"] if raw else ""
        return str(datetime.fromisoformat(str(at)).isoformat(timespec="seconds"))
    except (ValueError, KeyError, TypeError):
        return (datetime.now(UTC) - timedelta(seconds=idle)).isoformat(timespec="seconds")


def _closer(sid: str, reason: str, now: datetime) -> Apply:
    """The ``apply`` of :meth:`Store.advance` that ends the call as lost (Stale if ended)."""

    def apply(before: CallState | None, current: str | None) -> Commit:
        if before is None or before.ended:
            raise Stale(sid)
        after = replace(before, turn=before.turn + 1, outcome=OUTCOME, ended=True,
                        path=list(before.path), slots=dict(before.slots))
        said = f"; the caller's reason: {before.reason}" if before.reason else ""
        record = {"turn": after.turn, "from": before.state, "to": before.state,
                  "heard": {"kind": "lost", "status": "no status callback"}, "said": [],
                  "actions": [], "at": now.isoformat()}
        job = Job("call_end", {"sid": sid, "flow": before.flow, "version": before.version,
                               "outcome": OUTCOME, "reason": reason + said, "at": now.isoformat()})
        return Commit(after, "", record, [job])

    return apply


def close(store: Store, sid: str, reason: str, settings: Settings,
          jobs: redis.Redis | None = None) -> bool:
    """End call ``sid`` as lost with ``reason`` and move its ``call_end`` job to RQ.

    Returns:
        True when this call closed it; False when it had ended or expired already.
    """
    now = settings.now() or datetime.now(UTC)
    try:
        served = store.advance(sid, None, _closer(sid, reason, now))
    except UnknownCall:
        return False
    if not served.applied:
        return False
    outbox.drain(store.conn, sid, settings, jobs=jobs)
    live.ended(store.conn, sid, store.ttl)
    return True


def sweep(conn: redis.Redis, settings: Settings, jobs: redis.Redis | None = None,
          margin: int | None = None) -> Swept:
    """Close every call of the live index with no turn for ``call_ttl - margin`` seconds.

    Args:
        conn: The call-state Redis. jobs: RQ's Redis (default ``conn``).
        margin: Seconds before expiry (default ``settings.lost_margin``).
    """
    ttl = settings.call_ttl
    margin = min(settings.lost_margin if margin is None else margin, ttl)
    store, closed, expired = Store(conn, ttl), [], []
    for sid, left in _ttls(conn, _sids(conn)):
        if left == -2:  # gone: expired before a sweep saw it (or never stored here)
            expired.append(sid)
            continue
        if left < 0 or left > margin:
            continue
        idle = ttl - left
        reason = (f"no status callback within {clock(idle)} of the last turn "
                  f"(at {_last_turn(conn, sid, idle)}); closed before the call's state "
                  f"expires (call_ttl {clock(ttl)})")
        try:
            if close(store, sid, reason, settings, jobs):
                closed.append(sid)
        except redis.RedisError as exc:
            log.warning("lost call %s not closed (%s); the next sweep tries again", sid, exc)
    if expired:
        live.forget(conn, expired)
        log.warning("%d call(s) expired before the lost-call sweep saw them (no worker ran "
                    "for %ds?): not archived: %s", len(expired), margin, ", ".join(expired[:10]))
    if closed:
        log.info("closed %d lost call(s): %s", len(closed), ", ".join(closed[:10]))
    return Swept(closed, expired)
