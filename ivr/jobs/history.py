"""Caller history in Redis: how often a number called lately, and what about.

The ``record_call`` job adds each finished call; the web layer reads the list once, when a
call starts, so the whisper can tell the agent "third call this week; before: lost card".
Numbers are never stored: the key is :func:`ivr.runtime.redact.number_key` (a keyed hash).

Key: ``ivr:history:{number_key}``, a sorted set of ``{sid}|{topic}`` scored by the call's
end time (epoch seconds), trimmed to ``DAYS`` days and expiring a day after that.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from ivr.flowlang.machine import BUILT_IN
from ivr.runtime.redact import number_key, redact_text
from ivr.store.keys import HISTORY

DAYS = 7
KEY = HISTORY
_SKIP = {*BUILT_IN, ""}


def topic_of(state: dict[str, object]) -> str:
    """What a call was about, in a few words: the caller's words, else where it ended up."""
    reason = str(state.get("reason") or "")
    if reason and not reason.startswith("("):
        return redact_text(reason)[:60]
    path = [str(p) for p in state.get("path") or [] if str(p) not in _SKIP]  # type: ignore
    return path[-1].replace("_", " ") if path else "unknown"


def remember(conn: redis.Redis, caller: str, sid: str, topic: str, at: datetime,
             secret: str = "") -> None:
    """Add a finished call to the caller's history (idempotent: the member is per sid)."""
    if not caller or "*" in caller:
        return
    key = KEY.format(number_key(caller, secret))
    pipe = conn.pipeline(transaction=False)
    pipe.zadd(key, {f"{sid}|{topic}": at.timestamp()})
    pipe.zremrangebyscore(key, "-inf", (at - timedelta(days=DAYS)).timestamp())
    pipe.expire(key, timedelta(days=DAYS + 1))
    pipe.execute()


def query(caller: str, now: datetime | None = None,
          secret: str = "") -> tuple[str, str, float, str] | None:
    """The Redis command that reads the caller's last ``DAYS`` days (None: nothing to read),
    so the web layer can send it in the turn's own pipeline."""
    if not caller or "*" in caller:
        return None
    since = (now or datetime.now(UTC)) - timedelta(days=DAYS)
    return ("ZRANGEBYSCORE", KEY.format(number_key(caller, secret)), since.timestamp(), "+inf")


def topics(members: list[bytes | str]) -> list[str]:
    """The topics in the reply to :func:`query`, oldest first."""
    return [(m.decode() if isinstance(m, bytes) else str(m)).split("|", 1)[-1]
            for m in members]


def recent(conn: redis.Redis, caller: str, now: datetime | None = None,
           secret: str = "") -> list[str]:
    """Topics of this caller's calls in the last ``DAYS`` days, oldest first."""
    command = query(caller, now, secret)
    if command is None:
        return []
    return topics(conn.execute_command(*command))  # type: ignore[no-untyped-call]


def summary(topics: list[str]) -> str:
    """'Third call this week; before: lost card, balance.' ('' for a first call)."""
    if not topics:
        return ""
    nth = {1: "Second", 2: "Third", 3: "Fourth", 4: "Fifth"}.get(len(topics),
                                                                f"Call number {len(topics) + 1}")
    last = list(dict.fromkeys(reversed(topics)))[:3]
    return f"{nth} call this week; before: {', '.join(last)}."
