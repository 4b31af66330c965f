"""The two ways a transcript drives a call: the engine in-process, or signed HTTP.

:class:`EngineDriver` calls ``ivr.runtime.engine.step`` directly (what ``ivr replay`` and
``ivr validate --explore`` counterexamples use); :class:`ivr.qa.http_driver.HttpDriver`
posts the same steps as Twilio webhooks to a running server. Both return an
:class:`Observed` per turn: what the caller heard and which verbs came back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ivr.flowlang.machine import Compiled
from ivr.qa.transcript import Step, Transcript
from ivr.qa.transcript_schema import DEFAULT_CALLER
from ivr.runtime.actions import Gather, Job, kind_name, spoken
from ivr.runtime.engine import step as engine_step
from ivr.runtime.events import CallState, Event, QueueStatus
from ivr.runtime.work import DEFAULTS, Options


@dataclass
class Observed:
    """What one engine step (or webhook) produced, as the caller and the checks see it.

    ``state`` and ``outcome`` are None when unknown (over HTTP without the IVR headers).
    """

    state: str | None
    said: list[str]
    actions: list[str]
    ended: bool = False
    outcome: str | None = None
    hops: tuple[str, ...] | None = None
    """The edges (``src>trigger>dest``) this turn took; None when unknown (over HTTP)."""
    pending: str = ""
    """The intent the caller is being asked to confirm, if any (unknown over HTTP)."""


class Driver(Protocol):
    """Runs one call: in-process (:class:`EngineDriver`) or over HTTP."""

    states: set[str]
    edges: set[str]

    def start(self, t: Transcript) -> Observed: ...

    def send(self, s: Step) -> Observed: ...


def event_for(s: Step, now: datetime) -> Event:
    """The engine event for a caller step."""
    if s.kind == "press":
        return Event.press(s.value, now)
    if s.kind == "say":
        return Event.speech(s.value, s.confidence, now)
    if s.kind == "silence":
        return Event.silence(now)
    if s.kind == "dial_result":
        return Event.dialled(s.value, now)
    if s.kind == "recording":
        url = f"https://recordings.invalid/{s.number}" if s.seconds else ""
        return Event.recorded(url, s.seconds, now)
    if s.kind == "wait":
        return Event.tick(QueueStatus(position=s.position, waited=s.seconds), now)
    if s.kind == "leg":
        return Event.leg(s.value, 0, now)
    if s.kind == "hangup":
        return Event.hangup(now)
    raise ValueError(f"step {s.number} has no caller action")


def keypad(keys: str, num_digits: int, finish_key: str) -> str:
    """The ``Digits`` Twilio sends for ``keys`` pressed into a Gather.

    Collection stops at the finish key (which is not sent) or after ``num_digits`` keys,
    so ``250#`` into a dollar amount is ``250`` and ``0#`` into a one-key menu is ``0``.
    """
    out = ""
    for key in keys:
        if finish_key and key == finish_key:
            break
        out += key
        if num_digits and len(out) >= num_digits:
            break
    return out


class EngineDriver:
    """Drives ``ivr.runtime.engine.step`` in-process; keeps every state and edge it went through."""

    def __init__(self, c: Compiled, sid: str = "CAreplay", options: Options = DEFAULTS) -> None:
        self.c = c
        self.options = options
        self.call = CallState(sid, c.flow.id, c.flow.version, caller=DEFAULT_CALLER)
        self.now = datetime.now(UTC)
        self.states: set[str] = set()
        self.edges: set[str] = set()
        self.gather: Gather | None = None

    def start(self, t: Transcript) -> Observed:
        self.now = t.clock or datetime.now(UTC)
        self.call.caller = t.caller
        if t.answered_by:  # a callback we placed: to the number of an earlier call
            self.call.callback, self.call.attempt = "CAearlier" + "0" * 23, t.attempt
        return self._step(Event.start(self.now, t.answered_by))

    def send(self, s: Step) -> Observed:
        event = event_for(s, self.now)
        if s.kind == "press" and self.gather is not None:
            digits = keypad(s.value, self.gather.num_digits, self.gather.finish_on_key)
            event = Event.press(digits, self.now) if digits else Event.silence(self.now)
        return self._step(event)

    def _step(self, event: Event) -> Observed:
        self.call, actions = engine_step(self.c, self.call, event, self.options)
        self.gather = next((a for a in actions if isinstance(a, Gather)), None)
        self.states.update(hop.rsplit(">", 1)[-1] for hop in self.call.hops)
        self.edges.update(self.call.hops)
        return Observed(self.call.state, spoken(actions),
                        [kind_name(a) for a in actions if not isinstance(a, Job)],
                        self.call.ended, self.call.outcome, tuple(self.call.hops),
                        self.call.pending)


