"""Every key family in its Redis Cluster hash slot (redis-py's ``key_slot``), and the keys
of earlier versions (no hash tags) read and moved on first touch."""

from __future__ import annotations

import re

import pytest
import redis
from redis.crc import key_slot

from ivr.ops import auth, versions
from ivr.runtime.events import CallState
from ivr.store import calls, keys, live
from ivr.store.calls import Store

SIDS = ["CA" + "0123456789abcdef" * 2, "CAfeedface" + "9" * 24, "CA1"]


def slot(name: str) -> int:
    return int(key_slot(name.encode()))


@pytest.mark.parametrize("sid", SIDS)
def test_every_key_of_one_call_is_in_one_slot(sid: str) -> None:
    family = [keys.CALL, keys.TRANSCRIPT, keys.OUTBOX, keys.ANSWERED]
    assert {slot(t.format(sid)) for t in family} == {slot(sid)}  # the tag is the CallSid


def test_the_compare_and_set_touches_only_the_call_keys() -> None:
    """The script names no key but KEYS[1..3], and the store passes the call's three;
    KEYS[4..5] (the live-call index) only in the branches a cluster never asks for."""
    used = set(re.findall(r"KEYS\[(\d+)\]", calls._CAS))
    assert used == {"1", "2", "3", "4", "5"} and "redis.call('KEYS'" not in calls._CAS
    head, rest = calls._CAS.split("if ARGV[7] == 'start' then")
    index, tail = rest.split("if #ARGV >= jobs then")
    assert set(re.findall(r"KEYS\[(\d+)\]", head + tail)) == {"1", "2", "3"}
    assert set(re.findall(r"KEYS\[(\d+)\]", index)) == {"4", "5"}
    assert slot(keys.LIVE.format(3)) == slot(keys.ENDED.format(3))
    source = open(calls.__file__).read()
    assert "keys = [CALL.format(sid), TRANSCRIPT.format(sid), OUTBOX.format(sid)]" in source
    assert "live.NOTHING if self.cluster else live.in_commit(" in source


@pytest.mark.parametrize("flow_id", ["card-services", "billing", "x"])
def test_a_flows_versions_pointer_and_publish_log_share_a_slot(flow_id: str) -> None:
    names = [keys.FLOW.format(flow_id, "v1"), keys.FLOW.format(flow_id, "3f2a9c0d"),
             keys.FLOW.format(flow_id, keys.CURRENT), keys.AUDIT.format(flow_id),
             keys.RELOADED.format(flow_id)]
    assert {slot(n) for n in names} == {slot(flow_id)}
    assert keys.FLOW.format(flow_id, "v1") == f"ivr:flow:{{{flow_id}}}:v1"


def test_live_index_buckets_and_login_counters() -> None:
    for b in range(keys.LIVE_BUCKETS):  # moving a call to "ended" is one MULTI
        assert slot(keys.LIVE.format(b)) == slot(keys.ENDED.format(b))
    spread = {slot(keys.LIVE.format(b)) for b in range(keys.LIVE_BUCKETS)}
    assert len(spread) == keys.LIVE_BUCKETS  # 16 slots, not one hot key
    assert {live.bucket(s) for s in SIDS} <= set(range(keys.LIVE_BUCKETS))
    user, ip = auth._fail_keys("203.0.113.9", "Alice")
    assert slot(user) == slot(ip)  # one MGET


@pytest.mark.redis
def test_flows_under_untagged_names_are_read_and_copied(redis_conn: redis.Redis) -> None:
    """A deploy does not strand a flow: the pointer and versions of earlier names count."""
    redis_conn.set("ivr:flow:oldflow:v1", "flow: oldflow")
    redis_conn.set("ivr:flow:oldflow:v2", "flow: oldflow # 2")
    redis_conn.set("ivr:flow:oldflow:current", "v2")
    store = Store(redis_conn)
    assert not store.set_current_if_missing("oldflow", "v9")  # a restart keeps v2
    assert store.current("oldflow") == "v2"
    assert redis_conn.get(keys.FLOW.format("oldflow", keys.CURRENT)) == b"v2"
    assert redis_conn.get(keys.FLOW.format("oldflow", "v1")) == b"flow: oldflow"  # came too
    assert store.flow_text("oldflow", "v2") == "flow: oldflow # 2"
    assert redis_conn.exists("ivr:flow:oldflow:current")  # kept for older processes
    redis_conn.set("ivr:flow:other:v7", "flow: other")  # a version only: read on demand
    assert store.flow_text("other", "v7") == "flow: other"
    assert store.flow_text("other", "v8") is None and store.current("nothing") is None


@pytest.mark.redis
def test_a_new_call_starts_on_an_untagged_current_version(redis_conn: redis.Redis) -> None:
    redis_conn.set("ivr:flow:f:current", "v1")
    seen: list[str | None] = []

    def apply(before: CallState | None, current: str | None) -> calls.Commit:
        seen.append(current)
        return calls.Commit(CallState("CAx", "f", str(current), turn=1), "<Response/>")

    Store(redis_conn).advance("CAx", 0, apply, current_of="f")
    assert seen == ["v1"]


@pytest.mark.redis
def test_the_publish_log_of_an_earlier_version_is_kept(redis_conn: redis.Redis) -> None:
    redis_conn.lpush(keys.LEGACY_AUDIT.format("f"), '{"to": "v1", "who": "ann"}')
    # (the console's reading adds the diff's line counts: none in an entry without a diff)
    assert versions.audit(redis_conn, "f") == [{"to": "v1", "who": "ann", "added": 0,
                                                 "removed": 0}]
    assert redis_conn.llen(keys.AUDIT.format("f")) == 1
