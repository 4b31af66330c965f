"""The calls we place to ring callers back, as the web sees them: which try a callback's
URL names, and a try that never reached anyone (Twilio's status callback for it) turned
into a ``callback_retry`` job (the jobs decide when, and whether: ``callback_tries``)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import request

from ivr.jobs.enqueue import submit
from ivr.runtime.actions import Job
from ivr.server.context import jobs_redis, settings
from ivr.telephony.params import call_sid, caller_number, count, is_sid

UNANSWERED = {"busy", "failed", "no-answer"}
"""How a call we placed ends without anyone answering (a callback then tries again)."""
MAX_ATTEMPTS = 9


def attempt_of(raw: str | None) -> int:
    """The try number in a callback's URL (``&attempt=2``): 1 when absent or garbage."""
    n = count(raw)
    return n if n is not None and 1 <= n <= MAX_ATTEMPTS else 1


def unanswered_callback(params: Mapping[str, str]) -> None:
    """A callback we placed that never reached the caller (no answer, busy, failed: Twilio's
    status callback, ``?callback=<sid>&attempt=N``, for a call that never started a turn):
    ask the jobs for another try, as the engine does when a machine answers."""
    earlier = request.args.get("callback", "")
    status = params.get("CallStatus", "")
    if not is_sid(earlier) or status not in UNANSWERED:
        return
    job = Job("callback_retry", {"sid": call_sid(params), "callback": earlier,
                                 "flow": request.args.get("flow", "")[:64],
                                 "number": caller_number(params.get("To", "")),
                                 "attempt": attempt_of(request.args.get("attempt")),
                                 "why": status})
    submit(jobs_redis(), [job], settings())
