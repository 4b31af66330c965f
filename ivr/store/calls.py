"""Redis call-state store: one call's turns applied exactly once, whoever receives them.

Keys (see :mod:`ivr.store.keys`; call keys expire ``call_ttl`` seconds after the last turn,
and all of one call share the ``{CallSid}`` hash tag, so they live in one Cluster slot):

``ivr:call:{CallSid}``
    Hash. ``state``: JSON of :meth:`ivr.runtime.events.CallState.to_dict`; ``turn``: the call's
    turn counter (copied out of the JSON so a duplicate check needs no parsing);
    ``twiml``: the last TwiML served, zlib-compressed, re-served to duplicate deliveries.
``ivr:transcript:{CallSid}``
    List of :func:`ivr.runtime.record.turn_record` lines (JSON), one per accepted turn.
``ivr:outbox:{CallSid}``
    List of the call's committed jobs not yet handed to RQ (see :mod:`ivr.jobs.outbox`).
``ivr:flow:{flow_id}:{version}`` / ``ivr:flow:{flow_id}:current``
    Flow source text of one version (no TTL) / the version new calls start on (tagged
    with the flow id; the untagged names of earlier versions are read and copied over on
    first touch: :mod:`ivr.store.legacy`).

On a Redis Cluster the compare-and-set touches only the call's slot; the turn's read also
asks for the flow's current version and the caller's history (other slots: a cluster
pipeline sends each command to its node). When a node other than the call's is down, that
read is repeated for the call's keys alone, so the call goes on (on the version this
process last saw current, without the history line).

Concurrency is optimistic, keyed on the turn: a webhook's action URL carries ``turn=N``.
:meth:`Store.advance` reads the call; when the stored turn is not N the delivery is a
duplicate or stale, so the stored TwiML is re-served and nothing is stepped. Otherwise it
steps the engine and commits with an atomic compare-and-set (a small Lua script, the
WATCH/MULTI idea in one round trip instead of three): the commit happens only if the
stored turn is still N. Concurrent duplicates all step, exactly one commits, and the
others serve the winner's TwiML. The same script appends the turn's jobs to the call's
outbox, so a turn's side effects are committed with it or not at all.

An event that belongs to the call rather than to one turn (the status callback's hang-up)
uses ``turn=None``: it applies to whatever turn is current and, when another turn commits
first, is stepped again on the newer state (at most :data:`MAX_TRIES` times), never dropped.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from ivr.runtime.actions import Job
from ivr.runtime.events import CallState
from ivr.store import live
from ivr.store.connection import is_cluster
from ivr.store.keys import CALL, CURRENT, FLOW, OUTBOX, TRANSCRIPT
from ivr.store.legacy import adopt_flow_key, adopt_legacy

__all__ = ["Commit", "Contended", "Prefetch", "Served", "Stale", "Store", "UnknownCall",
           "adopt_legacy"]

Apply = Callable[[CallState | None, str | None], "Commit"]
# ``json.dumps(x, separators=(",", ":"))`` (and ``default=str``) without building an encoder
# each time: the same text, a few µs less per turn.
_compact = json.JSONEncoder(separators=(",", ":")).encode
_compact_any = json.JSONEncoder(separators=(",", ":"), default=str).encode
MAX_TRIES = 8
"""How often a ``turn=None`` event is stepped again after losing the compare-and-set."""

# Compare-and-set on the turn: commit the new state, TwiML, transcript line and the turn's
# jobs (outbox) only when the stored turn is still the one this delivery was for (a new
# call: no stored turn). A loss answers with what is stored now, so the caller can serve
# it, or step again on it, without another read. Off a cluster the same script notes a
# call's start or end in the live-call index (KEYS[4], KEYS[5]: ARGV[7] 'start' / 'end',
# ARGV[8] now, ARGV[9] the CallSid, ARGV[10] the ended index's cutoff; see
# :func:`ivr.store.live.in_commit`), which saves the turn a third round trip after the
# response; on a cluster those keys are in other slots, and the web process notes it after.
# A turn with nothing to note (ARGV[7] '') sends no ARGV[8..10]: its jobs start at ARGV[8].
_CAS = """
local cur = redis.call('HGET', KEYS[1], 'turn')
if (cur and tonumber(cur) ~= tonumber(ARGV[1])) or (not cur and ARGV[1] ~= '0') then
  return {0, redis.call('HGET', KEYS[1], 'twiml'), redis.call('HGET', KEYS[1], 'state'), cur}
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'turn', ARGV[3], 'twiml', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
if ARGV[6] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
local jobs = 8
if ARGV[7] == 'start' then
  redis.call('ZADD', KEYS[4], 'NX', ARGV[8], ARGV[9])
  jobs = 11
elseif ARGV[7] == 'end' then
  redis.call('ZREM', KEYS[4], ARGV[9])
  redis.call('ZADD', KEYS[5], ARGV[8], ARGV[9])
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[10])
  redis.call('EXPIRE', KEYS[5], ARGV[5])
  jobs = 11
end
if #ARGV >= jobs then
  redis.call('RPUSH', KEYS[3], unpack(ARGV, jobs))
end
return {1}
"""


@dataclass
class Prefetch:
    """One extra read command sent in :meth:`Store.advance`'s read pipeline (no extra round
    trip). ``result`` holds its reply once the read ran, or the exception it raised: a
    failed prefetch never fails the turn, its caller decides what the error means."""

    command: tuple[Any, ...]
    result: Any = None


@dataclass
class Commit:
    """What a turn commits: the new state, the TwiML to serve, one transcript line and the
    turn's jobs (written to the call's outbox by the same compare-and-set)."""

    call: CallState
    twiml: str
    record: dict[str, Any] | None = None
    jobs: Sequence[Job] = ()


@dataclass
class Served:
    """Result of :meth:`Store.advance`: the TwiML to serve and whether this request won.

    ``pending`` counts the outbox entries this request saw or committed (the ones it
    committed plus those already waiting when it read): more than 0 means the call's
    outbox should be drained (:func:`ivr.jobs.outbox.drain`) once the response is sent.
    """

    twiml: str
    applied: bool
    call: CallState | None = None
    pending: int = 0
    noted: bool = False
    """The compare-and-set noted the call's start or end in the live-call index too."""


class UnknownCall(LookupError):
    """An event arrived for a CallSid the store does not know (expired or never started)."""


class Stale(Exception):  # noqa: N818 - a signal from ``apply``, not an error
    """Raised by an ``apply`` function: there is nothing to apply to this state (e.g. a
    hang-up for a call that has ended already). :meth:`Store.advance` serves what is stored."""


class Contended(RuntimeError):
    """A ``turn=None`` event lost the compare-and-set :data:`MAX_TRIES` times in a row."""


@dataclass
class _Read:
    """The stored call as one read (or a lost compare-and-set) saw it."""

    turn: int | None
    twiml: bytes | None
    state: bytes | None
    pending: int = 0


class Store:
    """Call state, transcripts, outboxes and flow versions in one Redis.

    Args:
        conn: A redis-py client (with short socket timeouts in production).
        ttl: Seconds call keys live after their last turn.
    """

    def __init__(self, conn: redis.Redis, ttl: int = 4 * 3600) -> None:
        self.conn = conn
        self.ttl = ttl
        self._cas = conn.register_script(_CAS)
        self.cluster = is_cluster(conn)
        self._seen_current: dict[str, str] = {}

    # --- calls ------------------------------------------------------------------------

    def load(self, sid: str) -> CallState | None:
        """The stored state of call ``sid``, or None."""
        raw = self.conn.hget(CALL.format(sid), "state")
        if raw is None and adopt_legacy(self.conn, sid):
            raw = self.conn.hget(CALL.format(sid), "state")
        return CallState.from_dict(json.loads(raw)) if raw else None

    def advance(self, sid: str, turn: int | None, apply: Apply, current_of: str = "",
                prefetch: tuple[Prefetch, ...] = ()) -> Served:
        """Apply one webhook to call ``sid`` exactly once.

        Two round trips: one pipelined read (the call, its outbox length, plus the current
        version of ``current_of`` for a new call, plus any ``prefetch`` commands), then one
        atomic compare-and-set on the turn that also appends the turn's jobs to the outbox.

        Args:
            sid: The CallSid.
            turn: The turn number from the action URL (0 for the call's start), or None for
                an event of the whole call: it applies to the current turn, and is stepped
                again on the newer state when another turn commits first.
            apply: Steps the engine: gets the stored state (None for a new call) and the
                current version of ``current_of`` (None when not asked or unpublished), and
                returns the Commit, or raises :class:`Stale` when there is nothing to apply.
                Only called when this delivery is the expected one.
            current_of: A flow id whose current version a new call needs.
            prefetch: Extra reads ``apply`` may use (their ``result`` is set before it runs).

        Returns:
            The TwiML to serve; ``applied`` is False for a duplicate, stale or Stale delivery.

        Raises:
            UnknownCall: ``turn`` is not 0 but the call is not stored.
            Contended: ``turn`` is None and the compare-and-set was lost MAX_TRIES times.
        """
        read, current = self._read(sid, turn, current_of, prefetch)
        for _ in range(MAX_TRIES):
            if turn is not None and read.turn is not None and read.turn != turn:
                return Served(_unpack(read.twiml), False, _state(read.state), read.pending)
            before = _state(read.state) if read.turn is not None else None
            try:
                result = apply(before, current)
            except Stale:
                return Served(_unpack(read.twiml), False, before, read.pending)
            lost = self._commit(sid, read.turn or 0, result)
            if lost is None:
                return Served(result.twiml, True, result.call, read.pending + len(result.jobs),
                              noted=not self.cluster)
            lost.pending = read.pending
            if turn is not None:  # another delivery of the same turn committed first
                return Served(_unpack(lost.twiml), False, _state(lost.state), read.pending)
            read = lost
        raise Contended(f"call {sid}: lost the compare-and-set {MAX_TRIES} times")

    def _read(self, sid: str, turn: int | None, current_of: str,
              prefetch: tuple[Prefetch, ...], adopt: bool = True) -> tuple[_Read, str | None]:
        """The turn's one read: the call, its outbox length, the current version, prefetches."""
        got = self._pipelined(sid, current_of, prefetch)
        mine = got[:3] if current_of else got[:2]
        for reply in mine:
            if isinstance(reply, Exception):
                raise reply
        for p, reply in zip(prefetch, got[len(mine):], strict=True):
            p.result = reply
        (stored_turn, twiml, state), pending = got[0], int(got[1])
        current = got[2] if current_of else None
        if current_of and current is None and stored_turn is None:
            current = adopt_flow_key(self.conn, current_of, CURRENT)
        if current_of and current is not None:
            self._seen_current[current_of] = current.decode() if isinstance(
                current, bytes) else current
        if stored_turn is None and turn != 0:
            if adopt and adopt_legacy(self.conn, sid):
                return self._read(sid, turn, current_of, (), adopt=False)
            raise UnknownCall(sid)
        read = _Read(None if stored_turn is None else int(stored_turn), twiml, state, pending)
        return read, current.decode() if isinstance(current, bytes) else current

    def _pipelined(self, sid: str, current_of: str,
                   prefetch: tuple[Prefetch, ...]) -> list[Any]:
        """The read's replies; on a cluster whose node of the flow pointer or of a prefetch
        is down, the call's own keys again alone, the others standing in."""
        pipe = self.conn.pipeline(transaction=False)
        pipe.hmget(CALL.format(sid), "turn", "twiml", "state")
        pipe.llen(OUTBOX.format(sid))
        if current_of:
            pipe.get(FLOW.format(current_of, CURRENT))
        for p in prefetch:
            pipe.execute_command(*p.command)  # type: ignore[no-untyped-call]
        try:
            got: list[Any] = pipe.execute(raise_on_error=not prefetch)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not (self.cluster and (current_of or prefetch)):
                raise
            pipe = self.conn.pipeline(transaction=False)
            pipe.hmget(CALL.format(sid), "turn", "twiml", "state")
            pipe.llen(OUTBOX.format(sid))
            got = pipe.execute()  # the call's own node: its failure fails the turn
            if current_of:
                got.append(self._seen_current.get(current_of))
            got += [exc] * len(prefetch)
        return got

    def _commit(self, sid: str, expected: int, result: Commit) -> _Read | None:
        """The compare-and-set; None when it committed, else what is stored now."""
        record = _compact(result.record) if result.record else ""
        entries = [_compact_any({"id": f"t{result.call.turn}-{i}", "kind": job.kind,
                                 "payload": job.payload}) for i, job in enumerate(result.jobs)]
        keys = [CALL.format(sid), TRANSCRIPT.format(sid), OUTBOX.format(sid)]
        index = live.NOTHING if self.cluster else live.in_commit(
            sid, result.call.ended, result.call.turn, self.ttl, keys)
        won = self._cas(keys=keys, args=[
            expected, _compact(result.call.to_dict()),
            result.call.turn, _pack(result.twiml), self.ttl, record, *index, *entries])
        if won[0] == 1:
            return None
        return _Read(None if won[3] is None else int(won[3]), won[1], won[2])

    def transcript(self, sid: str) -> list[dict[str, Any]]:
        """Every transcript line of call ``sid``, oldest first."""
        return [json.loads(x) for x in self.conn.lrange(TRANSCRIPT.format(sid), 0, -1)]

    # --- flows ------------------------------------------------------------------------

    def put_flow(self, flow_id: str, version: str, text: str) -> None:
        """Store the source of one flow version (idempotent)."""
        self.conn.set(FLOW.format(flow_id, version), text.encode("utf-8"))

    def flow_text(self, flow_id: str, version: str) -> str | None:
        """The source of one stored version (None when not stored)."""
        raw = self.conn.get(FLOW.format(flow_id, version))
        if raw is None:
            raw = adopt_flow_key(self.conn, flow_id, version)
        return raw.decode("utf-8") if isinstance(raw, bytes) else raw

    def set_current(self, flow_id: str, version: str) -> None:
        self.conn.set(FLOW.format(flow_id, CURRENT), version)

    def set_current_if_missing(self, flow_id: str, version: str) -> bool:
        """Make ``version`` current unless one is already (SET NX; a pointer an earlier
        version wrote counts); True when set."""
        if adopt_flow_key(self.conn, flow_id, CURRENT) is not None:
            return False
        return bool(self.conn.set(FLOW.format(flow_id, CURRENT), version, nx=True))

    def current(self, flow_id: str) -> str | None:
        """The version new calls of ``flow_id`` start on, or None when never published."""
        raw = self.conn.get(FLOW.format(flow_id, CURRENT))
        if raw is None:
            raw = adopt_flow_key(self.conn, flow_id, CURRENT)
        return raw.decode() if isinstance(raw, bytes) else raw

    def ping(self) -> bool:
        """Redis answers. On a cluster: at least one primary does (see :meth:`down`), since
        calls on the live nodes go on while one is away."""
        if not self.cluster:
            return bool(self.conn.ping())
        return len(self.down()) < len(self.conn.get_primaries())  # type: ignore[attr-defined]

    def down(self) -> list[str]:
        """The cluster primaries that do not answer a PING (``host:port``; [] off a cluster)."""
        if not self.cluster:
            return []
        out = []
        for node in self.conn.get_primaries():  # type: ignore[attr-defined]
            try:
                self.conn.ping(target_nodes=node)
            except (redis.ConnectionError, redis.TimeoutError):
                out.append(f"{node.host}:{node.port}")
        return out


def _state(raw: bytes | None) -> CallState | None:
    return CallState.from_dict(json.loads(raw)) if raw else None


# Preset dictionary: the boilerplate every TwiML document repeats (halves stored bytes).
_ZDICT = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-US" voice="Polly.'
    b'Joanna"></Say><Dial action="" method="POST" timeout="25"><Number method="POST" url="'
    b'/whisper?sid=CA"></Number></Dial><Record action="" finishOnKey="#" maxLength="120" '
    b'method="POST" playBeep="true" timeout="5" /><Hangup /><Gather action="https://'
    b'/event?e=turn&amp;turn=" actionOnEmptyResult="true" finishOnKey="" hints="agent, '
    b'operator, representative, real person, human, speak to someone" input="dtmf speech" '
    b'language="en-US" method="POST" numDigits="1" speechTimeout="auto" timeout="6">'
    b'<Say language="en-US" voice="Polly.Joanna"></Say></Gather><Redirect method="POST">'
    b'https:///voice//event?e=no_input&amp;turn=</Redirect></Response>')
_PACKED = b"\x01"


# A 4 KB window and a small hash (32 KB of deflate state instead of 256 KB): the same bytes
# for documents of a few KB, and a turn no longer allocates and clears a quarter megabyte
# (24 -> 15 µs with caches cold, as they are in a turn). Any zlib reader reads either.
_WBITS, _MEMLEVEL = 12, 5


# One compressor with the dictionary loaded, never used itself: each turn packs with a copy
# (the same bytes as a new compressobj with zdict; ~20% fewer instructions a turn, since
# the dictionary is not hashed into a fresh state every time). Compress.copy() holds the
# object's lock, so threads may share it.
_PRIMED = zlib.compressobj(6, zlib.DEFLATED, _WBITS, _MEMLEVEL, zdict=_ZDICT)


def _pack(twiml: str) -> bytes:
    z = _PRIMED.copy()
    return _PACKED + z.compress(twiml.encode("utf-8")) + z.flush()


def _unpack(raw: bytes | None) -> str:
    if not raw:
        return ""
    if raw[:1] == _PACKED:
        return zlib.decompressobj(zdict=_ZDICT).decompress(raw[1:]).decode("utf-8")
    return zlib.decompress(raw).decode("utf-8")


