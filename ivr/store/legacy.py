"""Keys written by earlier versions, read and moved to today's names on first touch, so a
deploy strands neither a call in flight nor a published flow.

Earlier versions ran on a single Redis only (Sentinel or not; never a cluster), and named
call and flow keys without hash tags: ``ivr:call:CA…``, ``ivr:transcript:CA…``,
``ivr:flow:card-services:v3``. On a cluster client nothing here runs: such keys cannot be
there, and the renames would be cross-slot.
"""

from __future__ import annotations

import redis

from ivr.store.connection import is_cluster
from ivr.store.keys import (
    CALL,
    CURRENT,
    FLOW,
    LEGACY_CALL,
    LEGACY_FLOW,
    LEGACY_TRANSCRIPT,
    TRANSCRIPT,
)


def adopt_legacy(conn: redis.Redis, sid: str) -> bool:
    """Rename call ``sid``'s keys from the untagged names of earlier versions
    (``ivr:call:CA…``) to the tagged ones; True when there was such a call.

    Only runs when a tagged key is missing (a miss costs one more round trip).
    """
    legacy = LEGACY_CALL.format(sid)
    if legacy == CALL.format(sid) or is_cluster(conn):
        return False
    pipe = conn.pipeline(transaction=True)
    pipe.renamenx(legacy, CALL.format(sid))
    pipe.renamenx(LEGACY_TRANSCRIPT.format(sid), TRANSCRIPT.format(sid))
    try:
        moved = pipe.execute(raise_on_error=False)
    except redis.ResponseError:  # CROSSSLOT: a proxy in front of a cluster
        return False
    return not isinstance(moved[0], Exception)  # renamed, or another request just did


def adopt_flow_key(conn: redis.Redis, flow_id: str, name: str) -> bytes | None:
    """The value of flow key ``name`` (a version or :data:`CURRENT`) under its untagged
    name, copied to the tagged one (unless a newer process wrote that first); None when
    there is none. The untagged key is kept: processes of the earlier version may still
    be serving during a rolling deploy."""
    if is_cluster(conn) or LEGACY_FLOW.format(flow_id, name) == FLOW.format(flow_id, name):
        return None
    raw = conn.get(LEGACY_FLOW.format(flow_id, name))
    if raw is None:
        return None
    conn.set(FLOW.format(flow_id, name), raw, nx=True)
    if name == CURRENT:  # the versions a call in flight may be pinned to come along
        for key in conn.scan_iter(LEGACY_FLOW.format(_glob(flow_id), "*"), count=500):
            version = key.decode()[len(LEGACY_FLOW.format(flow_id, "")):]
            if version != CURRENT and ":" not in version:
                text = conn.get(key)
                if text is not None:
                    conn.set(FLOW.format(flow_id, version), text, nx=True)
    got = conn.get(FLOW.format(flow_id, name))
    return got.encode() if isinstance(got, str) else got


def _glob(text: str) -> str:
    """``text`` with SCAN's pattern characters escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
