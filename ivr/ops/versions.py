"""Publishing from the console: checked versions, optimistic locking, rollback and audit.

Keys (besides the store's ``ivr:flow:{id}:{version}`` and ``ivr:flow:{id}:current``):

``ivr:ops:audit:{flow}``
    List, newest first, of JSON entries ``{at, who, action, from, to, diff, note}``
    (``action`` is ``publish`` or ``rollback``; ``diff`` a unified diff of the texts).

A publish or rollback names the version the person started from (``based_on``). The
current pointer is WATCHed: when it moved meanwhile (someone else published) nothing is
written and the refusal says who published what, so nothing is overwritten silently.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from ivr.flowlang.catalog import Checked, check_text
from ivr.flowlang.diagnostics import Problem, errors_in
from ivr.store.calls import Store
from ivr.store.connection import is_cluster
from ivr.store.keys import CURRENT, FLOW

AUDIT = "ivr:ops:audit:{{{}}}"
"""A flow's publish log (newest first), tagged like the flow's keys: same slot as its
pointer, so a publish is one MULTI on a cluster too."""
LEGACY_AUDIT = "ivr:ops:audit:{}"
AUDIT_KEEP = 500


@dataclass
class PublishResult:
    """What a publish or rollback did (not a call's outcome). ``conflict`` is the entry that
    got there first."""

    ok: bool
    message: str
    version: str = ""
    problems: list[Problem] = field(default_factory=list)
    conflict: dict[str, Any] | None = None
    checked: Checked | None = None


def check(text: str, flow_id: str) -> Checked:
    """Check ``text`` as the file ``<flow_id>.yaml``; a different ``flow:`` id is a problem."""
    checked = check_text(text, f"{flow_id}.yaml")
    if checked.flow is not None and checked.flow.id != flow_id:
        pos = checked.source.pos(("flow",))
        checked.problems.append(Problem(
            "IVR210", f"this page edits flow '{flow_id}', but the text says "
            f"'flow: {checked.flow.id}'", checked.source.file, pos.line, pos.col, "flow",
            f"keep 'flow: {flow_id}' (a new flow id is a new file in flows/)"))
    return checked


def audit(conn: redis.Redis, flow_id: str, limit: int = 50) -> list[dict[str, Any]]:
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


def last_entry(conn: redis.Redis, flow_id: str) -> dict[str, Any] | None:
    got = audit(conn, flow_id, 1)
    return got[0] if got else None


def versions(conn: redis.Redis, flow_id: str) -> list[dict[str, Any]]:
    """Every stored version of ``flow_id``, newest published first.

    Each is ``{version, at, who}``; versions stored only by a deploy (``ivr reload`` or a
    start) have no ``at``/``who`` and come last.
    """
    seen: dict[str, dict[str, Any]] = {}
    for entry in reversed(audit(conn, flow_id, AUDIT_KEEP)):
        seen.pop(entry["to"], None)
        seen[entry["to"]] = {"version": entry["to"], "at": entry["at"], "who": entry["who"]}
    ordered = list(reversed(seen.values()))
    prefix = FLOW.format(flow_id, "")
    stored = sorted(k.decode()[len(prefix):] for k in conn.scan_iter(prefix + "*", count=500))
    ordered += [{"version": v, "at": "", "who": ""} for v in stored
                if v != CURRENT and v not in seen and ":" not in v]
    return ordered


def diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff of two flow texts ('' when equal)."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True), old_name, new_name))


def _conflict(conn: redis.Redis, flow_id: str, current: str | None,
              based_on: str) -> PublishResult:
    entry = last_entry(conn, flow_id)
    if entry and entry.get("to") == current:
        who = f"{entry['who']} {entry['action']}ed version {current} at {entry['at']}"
    else:
        who = f"version {current} was published (by a deploy or ivr reload)"
    return PublishResult(
        False, f"Not published: while you were editing, {who}. You started from version "
        f"{based_on or '(none)'}. Your text is kept below: look at what changed, merge, and "
        "publish again.", conflict=entry)


# Publish as one compare-and-set on the current pointer: write the version, move the
# pointer, log it, only while the pointer is still the version the editor started from.
# One script of one flow's keys (one slot): atomic on a single Redis and on a cluster.
_PUBLISH = """
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return {0, cur} end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
return {1}
"""


def _commit(store: Store, flow_id: str, text: str, version: str, based_on: str,
            entry: dict[str, Any]) -> PublishResult | None:
    """Write the version, move current and log, only if current is still ``based_on``."""
    conn = store.conn
    store.current(flow_id)  # a pointer and log of an earlier version move to the tagged keys
    adopt_audit(conn, flow_id)
    won = conn.register_script(_PUBLISH)(
        keys=[FLOW.format(flow_id, CURRENT), FLOW.format(flow_id, version),
              AUDIT.format(flow_id)],
        args=[based_on, version, text.encode("utf-8"), json.dumps(entry), AUDIT_KEEP])
    if won[0] == 1:
        return None
    current = won[1].decode() if isinstance(won[1], bytes) else won[1]
    return _conflict(conn, flow_id, current, based_on)


def _entry(action: str, who: str, based_on: str, version: str, old: str, new: str,
           note: str) -> dict[str, Any]:
    return {"at": datetime.now(UTC).isoformat(timespec="seconds"), "who": who,
            "action": action, "from": based_on, "to": version, "note": note[:500],
            "diff": diff(old, new, f"version {based_on or '(none)'}", f"version {version}")}


def publish(store: Store, flow_id: str, text: str, based_on: str, who: str,
            note: str = "", action: str = "publish") -> PublishResult:
    """Check ``text`` and make it the current version of ``flow_id``.

    Refused (nothing written) when it has errors, including a failed proof that every
    state can reach a human, or when the current version is no longer ``based_on``.
    """
    checked = check(text, flow_id)
    errors = errors_in(checked.problems)
    if checked.flow is None or errors:
        return PublishResult(False, f"Not published: {len(errors) or 1} error(s). Callers "
                             "keep the current version.", problems=errors or checked.problems,
                             checked=checked)
    version = checked.flow.version
    if version == based_on:
        return PublishResult(False, f"Nothing to publish: version {version} is already "
                             "current.", version, checked=checked)
    old = store.flow_text(flow_id, based_on) or "" if based_on else ""
    entry = _entry(action, who, based_on, version, old, text, note)
    refused = _commit(store, flow_id, text, version, based_on, entry)
    if refused is not None:
        refused.checked = checked
        return refused
    verb = "Rolled back to" if action == "rollback" else "Published"
    return PublishResult(True, f"{verb} version {version}: new calls use it now; calls in "
                         "progress stay on the version they started with.", version,
                         checked=checked)


def rollback(store: Store, flow_id: str, to: str, based_on: str, who: str) -> PublishResult:
    """Make the stored version ``to`` current again (checked again, audited)."""
    text = store.flow_text(flow_id, to)
    if text is None:
        return PublishResult(False, f"There is no stored version {to} of {flow_id}.")
    return publish(store, flow_id, text, based_on, who, f"rollback to {to}", "rollback")
