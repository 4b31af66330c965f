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

import re
from dataclasses import dataclass, field
from typing import Any

import redis

from ivr.flowlang.catalog import Checked, check_text
from ivr.flowlang.diagnostics import Problem, errors_in
from ivr.flowlang.schema import FLOW_ID
from ivr.store import audit as store_audit
from ivr.store.calls import Store
from ivr.store.keys import CURRENT, FLOW

AUDIT_KEEP = store_audit.KEEP


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
            f"keep 'flow: {flow_id}' (a new flow id is a New flow, on the flows page)"))
    return checked


def audit(conn: redis.Redis, flow_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` audit entries of ``flow_id``, each with the lines its diff
    ``added`` and ``removed``."""
    out = store_audit.entries(conn, flow_id, limit)
    for entry in out:
        entry["added"], entry["removed"] = diff_counts(str(entry.get("diff") or ""))
    return out


def diff_counts(diff: str) -> tuple[int, int]:
    """Lines added and removed by a unified diff: its ``+``/``-`` lines inside hunks (the
    ``---``/``+++`` file header is not a change; a changed line is one of each)."""
    added = removed = 0
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif not in_hunk:
            continue
        elif line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return added, removed


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




def _commit(store: Store, flow_id: str, text: str, version: str, based_on: str,
            entry: dict[str, Any]) -> PublishResult | None:
    """Write the version, move current and log, only if current is still ``based_on``."""
    store.current(flow_id)  # a pointer of an earlier version moves to the tagged key
    done = store_audit.commit(store.conn, flow_id, text, version, based_on, entry)
    return None if done.ok else _conflict(store.conn, flow_id, done.current, based_on)


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
    entry = store_audit.entry(action, who, based_on, version, old, text, note)
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


RESERVED_IDS = {"new"}


def create(store: Store, flow_id: str, text: str, who: str, note: str = "") -> PublishResult:
    """A new flow: ``text`` (checked like any publish, its ``flow:`` must be ``flow_id``)
    becomes version 1 of a flow that has no current version yet; audited as ``create``.
    Refused when the id is taken (someone created it first) or reserved."""
    if not re.fullmatch(FLOW_ID, flow_id) or flow_id in RESERVED_IDS:
        return PublishResult(False, f"Not created: {flow_id[:64]!r} is not a usable flow id "
                             "(lower-case letters, digits and '-'; not 'new').")
    if store.current(flow_id) is not None:
        return PublishResult(False, f"Not created: a flow '{flow_id}' exists already; edit "
                             "it on its own page.")
    checked = check(text, flow_id)
    errors = errors_in(checked.problems)
    if checked.flow is None or errors:
        return PublishResult(False, f"Not created: {len(errors) or 1} error(s).",
                             problems=errors or checked.problems, checked=checked)
    version = checked.flow.version
    entry = store_audit.entry("create", who, "", version, "", text, note or "new flow")
    done = store_audit.commit(store.conn, flow_id, text, version, "", entry)
    if not done.ok:
        return PublishResult(False, f"Not created: someone created '{flow_id}' meanwhile "
                             f"(version {done.current}).", checked=checked)
    return PublishResult(True, f"Created flow {flow_id}, version {version}: point a Twilio "
                         f"number's Voice URL at /voice/{flow_id}.", version, checked=checked)
