"""Redis call-state store: one call's turns applied exactly once, whoever receives them.

Keys (all JSON or text; call keys expire ``call_ttl`` seconds after the last turn):

``ivr:call:{CallSid}``
    Hash. ``state``: JSON of :meth:`ivr.runtime.events.CallState.to_dict`; ``turn``: the call's
    turn counter (copied out of the JSON so a duplicate check needs no parsing);
    ``twiml``: the last TwiML served, zlib-compressed, re-served to duplicate deliveries.
``ivr:transcript:{CallSid}``
    List of :func:`ivr.runtime.engine.turn_record` lines (JSON), one per accepted turn.
``ivr:flow:{flow_id}:{version}``
    Flow source text of one version (no TTL): any worker can rebuild a pinned version.
``ivr:flow:{flow_id}:current``
    The version new calls start on (``ivr reload`` moves it).

Concurrency is optimistic, keyed on the turn: a webhook's action URL carries ``turn=N``.
:meth:`Store.advance` reads the call; when the stored turn is not N the delivery is a
duplicate or stale, so the stored TwiML is re-served and nothing is stepped. Otherwise it
steps the engine and commits with an atomic compare-and-set (a small Lua script, the
WATCH/MULTI idea in one round trip instead of three): the commit happens only if the
stored turn is still N. Concurrent duplicates all step, exactly one commits, and the
others serve the winner's TwiML. Both call keys of a CallSid are touched by that script,
so under Redis Cluster they would need one hash slot (not a supported deployment).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from ivr.runtime.events import CallState
from ivr.store.keys import CALL, CURRENT, FLOW, TRANSCRIPT

Apply = Callable[[CallState | None, str | None], "Turn"]

# Compare-and-set on the turn: commit the new state, TwiML and transcript line only when
# the stored turn is still the one this delivery was for (a new call: no stored turn).
_CAS = """
local cur = redis.call('HGET', KEYS[1], 'turn')
if (cur and tonumber(cur) ~= tonumber(ARGV[1])) or (not cur and ARGV[1] ~= '0') then
  return {0, redis.call('HGET', KEYS[1], 'twiml'), redis.call('HGET', KEYS[1], 'state')}
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'turn', ARGV[3], 'twiml', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
if ARGV[6] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
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
class Turn:
    """What a turn produced: the new state, the TwiML to serve and one transcript line."""

    call: CallState
    twiml: str
    record: dict[str, Any] | None = None


@dataclass
class Outcome:
    """Result of :meth:`Store.advance`: the TwiML to serve and whether this request won."""

    twiml: str
    applied: bool
    call: CallState | None = None


class UnknownCall(LookupError):
    """An event arrived for a CallSid the store does not know (expired or never started)."""


class Store:
    """Call state, transcripts and flow versions in one Redis.

    Args:
        conn: A redis-py client (with short socket timeouts in production).
        ttl: Seconds call keys live after their last turn.
    """

    def __init__(self, conn: redis.Redis, ttl: int = 4 * 3600) -> None:
        self.conn = conn
        self.ttl = ttl
        self._cas = conn.register_script(_CAS)

    # --- calls ------------------------------------------------------------------------

    def load(self, sid: str) -> CallState | None:
        """The stored state of call ``sid``, or None."""
        raw = self.conn.hget(CALL.format(sid), "state")
        return CallState.from_dict(json.loads(raw)) if raw else None

    def advance(self, sid: str, turn: int, apply: Apply, current_of: str = "",
                prefetch: tuple[Prefetch, ...] = ()) -> Outcome:
        """Apply one webhook to call ``sid`` exactly once.

        Two round trips: one pipelined read (the call, plus the current version of
        ``current_of`` for a new call, plus any ``prefetch`` commands), then one atomic
        compare-and-set on the turn.

        Args:
            sid: The CallSid.
            turn: The turn number from the action URL (0 for the call's start).
            apply: Steps the engine: gets the stored state (None for a new call) and the
                current version of ``current_of`` (None when not asked or unpublished), and
                returns the Turn. Only called when this delivery is the expected one.
            current_of: A flow id whose current version a new call needs.
            prefetch: Extra reads ``apply`` may use (their ``result`` is set before it runs).

        Returns:
            The TwiML to serve; ``applied`` is False for a duplicate or stale delivery.

        Raises:
            UnknownCall: ``turn`` > 0 but the call is not stored.
        """
        key = CALL.format(sid)
        pipe = self.conn.pipeline(transaction=False)
        pipe.hmget(key, "turn", "twiml", "state")
        if current_of:
            pipe.get(FLOW.format(current_of, CURRENT))
        for p in prefetch:
            pipe.execute_command(*p.command)  # type: ignore[no-untyped-call]
        got = pipe.execute(raise_on_error=not prefetch)
        mine = got[:2] if current_of else got[:1]
        for reply in mine:
            if isinstance(reply, Exception):
                raise reply
        for p, reply in zip(prefetch, got[len(mine):], strict=True):
            p.result = reply
        stored, current = got[0], (got[1] if current_of else None)
        if stored[0] is None and turn:
            raise UnknownCall(sid)
        if stored[0] is not None and int(stored[0]) != turn:
            return Outcome(_unpack(stored[1]), False, _state(stored[2]))
        before = _state(stored[2]) if stored[0] is not None else None
        result = apply(before, current.decode() if isinstance(current, bytes) else current)
        record = json.dumps(result.record, separators=(",", ":")) if result.record else ""
        won = self._cas(keys=[key, TRANSCRIPT.format(sid)], args=[
            turn, json.dumps(result.call.to_dict(), separators=(",", ":")), result.call.turn,
            _pack(result.twiml), self.ttl, record])
        if won[0] != 1:  # another delivery of the same turn committed first
            return Outcome(_unpack(won[1]), False, _state(won[2]))
        return Outcome(result.twiml, True, result.call)

    def transcript(self, sid: str) -> list[dict[str, Any]]:
        """Every transcript line of call ``sid``, oldest first."""
        return [json.loads(x) for x in self.conn.lrange(TRANSCRIPT.format(sid), 0, -1)]

    # --- flows ------------------------------------------------------------------------

    def put_flow(self, flow_id: str, version: str, text: str) -> None:
        """Store the source of one flow version (idempotent)."""
        self.conn.set(FLOW.format(flow_id, version), text.encode("utf-8"))

    def flow_text(self, flow_id: str, version: str) -> str | None:
        raw = self.conn.get(FLOW.format(flow_id, version))
        return raw.decode("utf-8") if isinstance(raw, bytes) else raw

    def set_current(self, flow_id: str, version: str) -> None:
        self.conn.set(FLOW.format(flow_id, CURRENT), version)

    def set_current_if_missing(self, flow_id: str, version: str) -> bool:
        """Make ``version`` current unless one is already (SET NX); True when set."""
        return bool(self.conn.set(FLOW.format(flow_id, CURRENT), version, nx=True))

    def current(self, flow_id: str) -> str | None:
        """The version new calls of ``flow_id`` start on, or None when never published."""
        raw = self.conn.get(FLOW.format(flow_id, CURRENT))
        return raw.decode() if isinstance(raw, bytes) else raw

    def ping(self) -> bool:
        return bool(self.conn.ping())


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


def _pack(twiml: str) -> bytes:
    z = zlib.compressobj(6, zdict=_ZDICT)
    return _PACKED + z.compress(twiml.encode("utf-8")) + z.flush()


def _unpack(raw: bytes | None) -> str:
    if not raw:
        return ""
    if raw[:1] == _PACKED:
        return zlib.decompressobj(zdict=_ZDICT).decompress(raw[1:]).decode("utf-8")
    return zlib.decompress(raw).decode("utf-8")


