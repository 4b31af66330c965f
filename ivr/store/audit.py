"""Publishing a flow version: one optimistic transaction and its audit entry.

Every way a version becomes current (a console publish, rollback or new flow, an
``ivr reload``) goes through :func:`commit`: one Lua compare-and-set moves the current
pointer only if it is still the version the publisher started from, together with the
version's text and the audit entry (:data:`~ivr.store.keys.AUDIT`). Every key it touches
carries the flow's hash tag, so it is one slot on a Redis Cluster too (no WATCH/MULTI,
which a cluster pipeline refuses).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from ivr.store.connection import is_cluster
from ivr.store.keys import AUDIT, CURRENT, FLOW, LEGACY_AUDIT, RELOADED

KEEP = 500
# KEYS: current pointer, the version's text, the audit log, the reload marker.
# ARGV: based_on, version, text, entry JSON, KEEP, reload ('1' or '').
_COMMIT = """
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return {0, cur} end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[6] == '1' then redis.call('SET', KEYS[4], ARGV[2]) end
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
return {1}
"""
CONSOLE_ACTIONS = ("create", "publish", "rollback")


@dataclass(frozen=True)
class Committed:
    """``ok``, or the current version found instead of the expected one."""

    ok: bool
    current: str | None


def diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff of two flow texts ('' when equal)."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True), old_name, new_name))


def entry(action: str, who: str, based_on: str, version: str, old: str, new: str,
          note: str) -> dict[str, Any]:
    """An audit entry (with the diff of the two texts)."""
    return {"at": datetime.now(UTC).isoformat(timespec="seconds"), "who": who,
            "action": action, "from": based_on, "to": version, "note": note[:500],
            "diff": diff(old, new, f"version {based_on or '(none)'}", f"version {version}")}


def entries(conn: redis.Redis, flow_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` audit entries of ``flow_id``."""
    got = conn.lrange(AUDIT.format(flow_id), 0, limit - 1)
    if not got and adopt_audit(conn, flow_id):
        got = conn.lrange(AUDIT.format(flow_id), 0, limit - 1)
    return [json.loads(x) for x in got]


def adopt_audit(conn: redis.Redis, flow_id: str) -> bool:
    """Move the log an earlier version kept under its untagged name (single Redis only:
    a cluster never had one); True when it moved."""
    if is_cluster(conn):
        return False
    try:
        return bool(conn.renamenx(LEGACY_AUDIT.format(flow_id), AUDIT.format(flow_id)))
    except redis.ResponseError:  # no such key
        return False


def reloaded(conn: redis.Redis, flow_id: str) -> str | None:
    """The version ``ivr reload`` (or the first start) published last."""
    raw = conn.get(RELOADED.format(flow_id))
    return raw.decode() if isinstance(raw, bytes) else raw


def console_published(conn: redis.Redis, flow_id: str,
                      current: str | None) -> dict[str, Any] | None:
    """The audit entry by which the console made ``current`` current (None: it did not)."""
    got = entries(conn, flow_id, 1)
    if current and got and got[0].get("to") == current and \
            got[0].get("action") in CONSOLE_ACTIONS:
        return got[0]
    return None


def commit(conn: redis.Redis, flow_id: str, text: str, version: str, based_on: str,
           audit: dict[str, Any], reload: bool = False) -> Committed:
    """Store ``text`` as ``version``, make it current and log ``audit``, only if the current
    version is still ``based_on`` ('' for a flow that must not exist yet). ``reload`` also
    records it as the version ``ivr reload`` published last."""
    adopt_audit(conn, flow_id)
    won = conn.register_script(_COMMIT)(
        keys=[FLOW.format(flow_id, CURRENT), FLOW.format(flow_id, version),
              AUDIT.format(flow_id), RELOADED.format(flow_id)],
        args=[based_on, version, text.encode("utf-8"), json.dumps(audit), KEEP,
              "1" if reload else ""])
    if won[0] == 1:
        return Committed(True, version)
    current = won[1].decode() if isinstance(won[1], bytes) else won[1]
    return Committed(False, current)
