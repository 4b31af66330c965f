"""Every Redis key name of the call store and the job pipeline, in one place (see
docs/operations.md, "Redis keys"). The ops console's own keys live in ``ivr/ops``.

Call keys carry a call's CallSid in a Redis Cluster hash tag (``{CA…}``, literal braces):
every key of one call hashes to the same slot, so the pipelined read and the Lua
compare-and-set of a turn touch one slot only. Flow keys carry their flow id the same way
(``ivr:flow:{card-services}:v3``), so a publish (version, pointer and audit line in one
WATCH/MULTI) is single-slot too. The live-call index is split into :data:`LIVE_BUCKETS`
sorted sets, each its own slot. Nothing else spells a key out: the store, the job
functions, the CLI and the console format these. ``tests/store/test_slots.py`` computes
the slot of every key family with redis-py's ``key_slot``.
"""

from __future__ import annotations

CALL = "ivr:call:{{{}}}"
"""Hash of one call: ``state`` (CallState JSON), ``turn``, ``twiml`` (the last served)."""
TRANSCRIPT = "ivr:transcript:{{{}}}"
"""List of one call's transcript lines (JSON), one per accepted turn."""
OUTBOX = "ivr:outbox:{{{}}}"
"""List of one call's committed, not yet enqueued jobs (JSON ``{"id", "kind", "payload"}``),
RPUSHed by the turn's compare-and-set and removed by :mod:`ivr.jobs.outbox` once in RQ.
No TTL: it exists only while something is pending."""
OUTBOXES = "ivr:outboxes"
"""Sorted set of CallSids whose outbox may hold jobs (score: when a drain began, in µs).
Written after the commit, never by the compare-and-set (it is in another hash slot); a
SCAN of ``OUTBOX.format("*")`` is the backstop for a sid that never got here."""
FLOW = "ivr:flow:{{{}}}:{}"
"""Source text of one flow version; ``FLOW.format(id, CURRENT)`` is the current pointer."""
CURRENT = "current"
CALLBACK_PLACED = "ivr:callback:placed:{}"
"""The callback asked for in call CallSid: ``claimed …`` while Twilio is being asked, then
the placed call's CallSid (or ``dry-run``). Claimed with SET NX before Twilio is called."""
DRY_CALLBACKS = "ivr:callbacks:dry"
"""List of the callbacks a dry run would have placed (JSON requests)."""
HISTORY = "ivr:history:{}"
"""Sorted set of a caller's recent calls (``{sid}|{topic}``), by a keyed hash of the number."""

LIVE = "ivr:live:{{b{}}}"
"""Sorted set of the calls in progress whose CallSid falls in bucket N (score: start, epoch
seconds); added once a call's first turn committed, removed when it ends."""
ENDED = "ivr:ended:{{b{}}}"
"""Sorted set of the calls of bucket N that ended lately (score: end, epoch seconds),
trimmed to ``call_ttl``: the console's "show ended calls". Same slot as ``LIVE`` of N."""
LIVE_BUCKETS = 16
ANSWERED = "ivr:answered:{{{}}}"
"""When a person answered call CallSid (epoch seconds): set when their leg fetched the
whisper, so the agent page can tell "connected" from "ringing"; TTL ``call_ttl``. Not call
state (the engine never reads it); same slot as the call's keys."""

LEGACY_CALL = "ivr:call:{}"
LEGACY_TRANSCRIPT = "ivr:transcript:{}"
"""The call keys of versions before hash tags: read (renamed to the tagged names) when a
turn finds no tagged key, so a deploy does not strand calls in flight."""
LEGACY_FLOW = "ivr:flow:{}:{}"
"""Flow keys of versions before hash tags: read when the tagged key is missing and copied
to it (kept, for processes of the older version still running during the deploy)."""


def sid_of(key: bytes | str, template: str) -> str:
    """The CallSid in ``key``, a name made from ``template`` (e.g. ``OUTBOX``)."""
    text = key.decode() if isinstance(key, bytes) else key
    head, _, tail = template.format("\0").partition("\0")
    if not (text.startswith(head) and text.endswith(tail)) or len(text) <= len(head + tail):
        return ""
    return text[len(head):len(text) - len(tail)]
OPS_SESSION = "ivr:ops:session:{}"
"""A console login that has not been logged out ("<user> <login time>"; its TTL is the idle
timeout, renewed by each request)."""
OPS_USER_SESSIONS = "ivr:ops:sessions:{}"
"""Set of a user's session ids (``ivr.ops.sessions.end_all``: log out everywhere)."""
CALLER_KEY_SECRET = "ivr:secret:caller-key"
"""The generated key of the caller-number hash when ``caller_key_secret`` is not set:
made once (SET NX) and shared by every process on this Redis."""
AUDIT = "ivr:ops:audit:{{{}}}"
"""List, newest first, of one flow's publishing history (JSON ``{at, who, action, from, to,
diff, note}``; ``action``: ``create``, ``publish``, ``rollback`` or ``reload``)."""
RELOADED = "ivr:reload:{{{}}}"
LEGACY_AUDIT = "ivr:ops:audit:{}"
"""The publish log's untagged name in versions before the cluster (moved on first use)."""
"""The version of a flow that ``ivr reload`` (or the first start) published last: a file
still at that version has not changed since, and never overwrites a console publish."""
CALLBACKS_BY_CALLER = "ivr:callbacks:caller:{}:{}"
CALLBACKS_BY_NUMBER = "ivr:callbacks:number:{}:{}"
"""Sets of the CallSids promised a callback on one day (``YYYY-MM-DD``, UTC), by a keyed
hash of the caller's number / of the number to ring (never the number itself); two days'
TTL. Their sizes are the per-day limits of ``callback_max_per_day``."""
