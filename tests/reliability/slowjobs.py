"""Imported by a worker process before ``ivr worker`` starts: job functions that write part
of their rows, then sleep, so a test can SIGKILL the worker in the middle of a job.

RQ resolves ``ivr.jobs.tasks.record_call`` by attribute at run time, so patching the module here
changes only this worker (the web processes that enqueue are untouched).
"""

from __future__ import annotations

import json
import time
from typing import Any

from ivr.jobs import tasks
from ivr.store.keys import TRANSCRIPT

PAUSE = 0.6
_record, _inbox = tasks.record_call, tasks.inbox_item


def record_call(payload: dict[str, Any], kind: str = "call_end") -> dict[str, Any]:
    """Archive the call row with its first turn only, pause, then archive it properly."""
    if isinstance(payload, dict) and payload.get("sid"):
        conn = tasks._redis()
        first = conn.lindex(TRANSCRIPT.format(payload['sid']), 0)
        if first:
            tasks.archive().record_call(
                {"sid": payload["sid"], "flow": payload.get("flow", ""),
                 "ended": payload.get("at", "")}, [json.loads(first)])
    time.sleep(PAUSE)
    return _record(payload, kind)


def inbox_item(payload: dict[str, Any], kind: str = "inbox") -> dict[str, Any]:
    """Write the inbox row, pause (a kill here means the job runs again), return."""
    result = _inbox(payload, kind)
    time.sleep(PAUSE)
    return result


tasks.record_call = record_call  # type: ignore[assignment]
tasks.inbox_item = inbox_item  # type: ignore[assignment]
