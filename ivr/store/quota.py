"""Callbacks promised per caller and per number per day, counted in Redis.

Counted as sets of CallSids (``SADD``), so a duplicate webhook or a retried
compare-and-set never counts a call twice; keyed by the keyed hash of the number
(:func:`~ivr.runtime.redact.number_key`), so no number is stored. Two calls promised at
the same moment may both pass a limit of N (the check and the count are separate round
trips): the limit is a brake on abuse, not an exact quota.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from ivr.runtime.redact import number_key
from ivr.store.keys import CALLBACKS_BY_CALLER, CALLBACKS_BY_NUMBER

TTL = 2 * 24 * 3600


def over_limit(conn: redis.Redis, secret: str, day: str, caller: str,
               numbers: Iterable[str], limit: int) -> frozenset[str]:
    """Which of ``numbers`` may not be promised another callback today: the ones that had
    ``limit`` already, or all of them when the caller had ``limit`` already."""
    wanted = sorted({n for n in numbers if n})
    if not wanted or limit <= 0 or not secret:
        return frozenset(wanted if limit <= 0 else ())
    pipe = conn.pipeline(transaction=False)
    pipe.scard(CALLBACKS_BY_CALLER.format(day, number_key(caller, secret)) if caller
               else CALLBACKS_BY_CALLER.format(day, "-"))
    for n in wanted:
        pipe.scard(CALLBACKS_BY_NUMBER.format(day, number_key(n, secret)))
    first, *rest = (int(x) for x in pipe.execute())
    if caller and first >= limit:
        return frozenset(wanted)
    return frozenset(n for n, count in zip(wanted, rest, strict=True) if count >= limit)


def record(conn: redis.Redis, secret: str, day: str, sid: str, caller: str,
           number: str) -> None:
    """Count call ``sid``'s promised callback to ``number`` for today (idempotent)."""
    if not secret:
        return
    pipe = conn.pipeline(transaction=False)
    for key in ((CALLBACKS_BY_CALLER.format(day, number_key(caller, secret)) if caller
                 else ""), CALLBACKS_BY_NUMBER.format(day, number_key(number, secret))):
        if key:
            pipe.sadd(key, sid)
            pipe.expire(key, TTL)
    pipe.execute()
