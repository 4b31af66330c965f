"""Publishing a flow version: one optimistic transaction and its audit entry.

Every way a version becomes current (a console publish, rollback or new flow, an
``ivr reload``) goes through :func:`commit`: the current pointer is WATCHed and moved only
if it is still the version the publisher started from, together with the version's text
and the audit entry (:data:`~ivr.store.keys.AUDIT`), in one MULTI/EXEC.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from ivr.store.keys import AUDIT, CURRENT, FLOW, RELOADED

KEEP = 500
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
    return [json.loads(x) for x in conn.lrange(AUDIT.format(flow_id), 0, limit - 1)]


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
    key = FLOW.format(flow_id, CURRENT)
    with conn.pipeline() as pipe:
        try:
            pipe.watch(key)  # type: ignore[no-untyped-call]
            raw = pipe.get(key)
            current = raw.decode() if isinstance(raw, bytes) else raw
            if (current or "") != based_on:
                pipe.unwatch()
                return Committed(False, current)
            pipe.multi()
            pipe.set(FLOW.format(flow_id, version), text.encode("utf-8"))
            pipe.set(key, version)
            if reload:
                pipe.set(RELOADED.format(flow_id), version)
            pipe.lpush(AUDIT.format(flow_id), json.dumps(audit))
            pipe.ltrim(AUDIT.format(flow_id), 0, KEEP - 1)
            pipe.execute()
        except redis.WatchError:
            raw = conn.get(key)
            return Committed(False, raw.decode() if isinstance(raw, bytes) else raw)
    return Committed(True, version)
