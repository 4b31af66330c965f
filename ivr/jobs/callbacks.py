"""The callback a caller asked for: placed by an RQ job at the promised time, at most once.

Only numbers the callback policy allows are rung (fixed-line or mobile, in
``callback_countries`` when set): the engine never promises others
(:mod:`ivr.runtime.callback_policy`) and this job refuses them too, without retries.

A ``Job("callback", {... "number", "promise"})`` (the caller confirmed a number) is routed
by :data:`ivr.jobs.enqueue.ROUTES` to :func:`place_callback`, scheduled at ``promise``
(rq's ``enqueue_at``, moved to the queue by the worker's scheduler), besides archiving the
request and telling ops. The job rings the caller with the Twilio REST API::

    Client(account_sid, auth_token).calls.create(to=number, from_=callback_from_number,
                                                 url=<voice URL of the flow>?callback=<sid>)

In dry-run mode (``callback_dry_run``, or no account SID / auth token) nothing leaves the
machine: the request that would go to Twilio is appended as JSON to the Redis list
``ivr:callbacks:dry``.

**Never twice.** ``ivr:callback:placed:{sid}`` is claimed with ``SET NX`` *before* Twilio
is asked (value ``claimed <job id> <time>``), then overwritten with the placed call's
CallSid. A run that finds the key placed does nothing. When Twilio refuses the request
(4xx: :class:`ivr.telephony.rest.Rejected`) no call exists, so the claim is released and
RQ's retries apply. Any other failure after the claim (a timeout after the request was
sent, a lost connection, a 5xx, a worker killed mid-job) leaves it unknown whether the
phone rang: the claim stays, and the next run (RQ's retry) stops with
:class:`Unconfirmed`, without retries, so it waits in the failed registry for a person
(``ivr jobs list``) instead of ringing the caller a second time or being dropped. The
person checks Twilio's call log for a call to that number after the claim time and, if
none was placed, runs ``ivr jobs retry --release-callbacks <job id>``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import redis
from rq import get_current_job

from ivr.flowlang.phone import CALLABLE_TYPES, line_type, region_code, valid_number
from ivr.jobs import tasks as jobs
from ivr.runtime.redact import mask_number
from ivr.store.keys import CALLBACK_PLACED as PLACED
from ivr.store.keys import DRY_CALLBACKS as DRY_LIST
from ivr.telephony import rest

log = logging.getLogger(__name__)
PLACED_TTL = 7 * 24 * 3600
DRY_BASE = "http://localhost"
CLAIMED = "claimed"
# Delete the claim only if it is still the one given (compare-and-delete).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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
    regions = jobs.current_settings().callback_regions()
    if line_type(to) not in CALLABLE_TYPES or (regions and region_code(to) not in regions):
        # the engine never promises these (runtime.callback_policy); a job that says
        # otherwise is refused here too, for a person, rather than ringing it
        raise jobs._no_retry(jobs.PayloadError(
            "callback", f"{mask_number(to)} ({line_type(to)}, {region_code(to) or '?'}) may "
            "not be rung (callback_countries, fixed-line and mobile numbers only)"))
    from_ = jobs.current_settings().callback_from_number
    base = jobs.current_settings().public_base_url or (DRY_BASE if dry else "")
    if not dry and not (from_ and base):
        raise jobs._no_retry(jobs.PayloadError(
            "callback", "set callback_from_number and public_base_url to place callbacks"))
    return {"to": to, "from_": from_, "url": voice_url(str(p["flow"]), p["sid"], base)}


def place_callback(payload: dict[str, Any], kind: str = "callback") -> dict[str, Any]:
    """Ring back a caller who asked for it: once per CallSid (claimed before Twilio is
    called; see the module docstring for what happens when the outcome is unknown)."""
    p = jobs._checked(kind, payload, ("sid", "flow", "number"))
    conn = jobs._redis()
    dry = dry_run()
    req = request_for(p, dry)
    key = PLACED.format(p["sid"])
    current = get_current_job()
    claim = f"{CLAIMED} {current.id if current else '-'} {datetime.now(UTC).isoformat()}"
    if not conn.set(key, claim, nx=True, ex=PLACED_TTL):
        held = _text(conn.get(key))
        if not held.startswith(CLAIMED):
            return {"sid": p["sid"], "skipped": "already placed"}
        raise jobs._no_retry(Unconfirmed(p["sid"], mask_number(req["to"]), held))
    try:
        placed = _record_dry(conn, p, req) if dry else _call_twilio(req)
    except rest.Rejected:
        conn.register_script(_RELEASE)(keys=[key], args=[claim])  # nothing rang: retry
        raise
    conn.set(key, placed, ex=PLACED_TTL)
    log.info("callback for %s placed (%s)", p["sid"], "dry run" if dry else placed)
    return {"sid": p["sid"], "call": placed, "dry_run": dry}


class Unconfirmed(RuntimeError):
    """The callback was claimed but not confirmed placed: it may have rung. Not retried."""

    def __init__(self, sid: str, to: str, claim: str) -> None:
        super().__init__(
            f"callback for {sid} to {to} was claimed ({claim}) but never confirmed placed: "
            "check Twilio's call log for it; if none was placed, run `ivr jobs retry "
            "--release-callbacks <this job id>`")
        self.sid = sid


def release(conn: redis.Redis, sid: str) -> bool:
    """Drop an unconfirmed claim of call ``sid``'s callback (a person checked it did not
    ring); a placed callback's key is kept. True when a claim was dropped."""
    key = PLACED.format(sid)
    held = _text(conn.get(key))
    if not held.startswith(CLAIMED):
        return False
    return bool(conn.register_script(_RELEASE)(keys=[key], args=[held]))


def _text(raw: bytes | str | None) -> str:
    return raw.decode() if isinstance(raw, bytes) else (raw or "")


def _record_dry(conn: redis.Redis, p: dict[str, Any], req: dict[str, str]) -> str:
    conn.rpush(DRY_LIST, json.dumps({
        "sid": p["sid"], "to": req["to"], "from": req["from_"], "url": req["url"],
        "promise": p.get("promise", ""), "at": datetime.now(UTC).isoformat()}))
    return "dry-run"


def _call_twilio(req: dict[str, str]) -> str:
    account_sid, token = _credentials()
    return rest.place_call(account_sid, token, req["to"], req["from_"], req["url"])
