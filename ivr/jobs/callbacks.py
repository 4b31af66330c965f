"""The callback a queued caller asked for: placed by an RQ job at the promised time.

The web layer submits ``Job("callback", {... "number", "promise"})`` once the caller has
confirmed; :data:`ivr.jobs.enqueue.ROUTES` schedules :func:`place_callback` at ``promise``
(rq's
``enqueue_at``, moved to the queue by the worker's scheduler) besides archiving the request
and telling ops. The job rings the caller with the Twilio REST API::

    Client(account_sid, auth_token).calls.create(to=number, from_=callback_from_number,
                                                 url=<voice URL of the flow>?callback=<sid>)

In dry-run mode (``callback_dry_run``, or no account SID / auth token) nothing leaves the
machine: the request that would go to Twilio is appended as JSON to the Redis list
``ivr:callbacks:dry``. Idempotent by CallSid: ``ivr:callback:placed:{sid}`` records a placed
callback, and a re-run (retry, duplicate) finds it and places nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import redis

from ivr.flowlang.phone import valid_number
from ivr.jobs import tasks as jobs
from ivr.store.keys import CALLBACK_PLACED as PLACED
from ivr.store.keys import DRY_CALLBACKS as DRY_LIST
from ivr.telephony import rest

log = logging.getLogger(__name__)
PLACED_TTL = 7 * 24 * 3600
DRY_BASE = "http://localhost"


def _credentials() -> tuple[str, str]:
    twilio = jobs.current_settings().twilio
    return twilio.account_sid, twilio.auth_token


def dry_run() -> bool:
    """True when callbacks are only recorded (the setting, or missing credentials)."""
    sid, token = _credentials()
    return jobs.current_settings().callback_dry_run or not (sid and token)


def voice_url(flow: str, sid: str, base: str) -> str:
    """The flow's Voice URL with the callback marker (the original CallSid)."""
    return (f"{base.rstrip('/')}/voice/{quote(flow, safe='')}"
            f"?callback={quote(sid, safe='')}")


def request_for(p: dict[str, Any], dry: bool) -> dict[str, str]:
    """The ``calls.create`` arguments for payload ``p`` (PayloadError when unusable)."""
    to = valid_number(str(p["number"]))
    if not to:
        raise jobs._no_retry(jobs.PayloadError("callback", f"invalid number {p['number']!r}"))
    from_ = jobs.current_settings().callback_from_number
    base = jobs.current_settings().public_base_url or (DRY_BASE if dry else "")
    if not dry and not (from_ and base):
        raise jobs._no_retry(jobs.PayloadError(
            "callback", "set callback_from_number and public_base_url to place callbacks"))
    return {"to": to, "from_": from_, "url": voice_url(str(p["flow"]), p["sid"], base)}


def place_callback(payload: dict[str, Any], kind: str = "callback") -> dict[str, Any]:
    """Ring back a caller who left the queue for a callback (once per CallSid)."""
    p = jobs._checked(kind, payload, ("sid", "flow", "number"))
    conn = jobs._redis()
    key = PLACED.format(p["sid"])
    if conn.exists(key):
        return {"sid": p["sid"], "skipped": "already placed"}
    dry = dry_run()
    req = request_for(p, dry)
    placed = _record_dry(conn, p, req) if dry else _call_twilio(req)
    conn.set(key, placed, ex=PLACED_TTL)
    log.info("callback for %s placed (%s)", p["sid"], "dry run" if dry else placed)
    return {"sid": p["sid"], "call": placed, "dry_run": dry}


def _record_dry(conn: redis.Redis, p: dict[str, Any], req: dict[str, str]) -> str:
    conn.rpush(DRY_LIST, json.dumps({
        "sid": p["sid"], "to": req["to"], "from": req["from_"], "url": req["url"],
        "promise": p.get("promise", ""), "at": datetime.now(UTC).isoformat()}))
    return "dry-run"


def _call_twilio(req: dict[str, str]) -> str:
    account_sid, token = _credentials()
    return rest.place_call(account_sid, token, req["to"], req["from_"], req["url"])
