"""What a caller (and the telephone network) can do next, and when each thing can happen.

The explorer never guesses where an input could arrive: :func:`waiting_after` reads it off
the actions the previous step returned (a Gather takes keys, and speech if it listens for
it; a Record gets a recording or none; a Dial or Enqueue gets a dial result; a queued
caller gets queue ticks), so new engine states are explored without changes here.
:func:`alphabet` is the one function that lists the inputs for a moment of the call; pass
another one to :func:`ivr.qa.explore.explore` to extend it.

Every input is also a transcript step (``press``, ``say``, ``silence``, ``hangup``,
``dial_result``, ``recording``, ``leg``, and ``record: none`` / ``wait:``), and the event built for
it is the one :class:`ivr.qa.drivers.EngineDriver` builds for that step, so a
counterexample replays exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr.flowlang.machine import Compiled
from ivr.qa.drivers import event_for, keypad
from ivr.qa.transcript import Step
from ivr.runtime import language
from ivr.runtime.actions import Action, Dial, Enqueue, Gather, Hangup, Leave, Record, Redirect
from ivr.runtime.events import CallState, Event, EventKind, QueueStatus

KEYS = tuple("0123456789*#")
GARBAGE = "*73*19*"
"""Keys no menu, PIN or phone number accepts (cut by the Gather as a phone would)."""
ENTRY = "12345678901234567890123456789012"
"""Digits for an entry: a collect state gets its first ``min_digits`` of them."""
PHONE = "2125550123#"
"""A phone number, for an entry of any length (e.g. the number to call back)."""
OUT_OF_SCOPE = "what time does the moon rise over the harbour"
YES_NO = ("yes", "no")
UNSURE = 0.2
"""An ASR confidence low enough that a good match is confirmed ("is that right?")."""
DIAL_RESULTS = ("completed", "busy", "no-answer", "failed", "canceled")
LEG_REPORTS = ("ringing", "answered", "completed")
"""What the person's phone leg of a Dial reports while it is rung (``leg:`` steps): the
caller must hear nothing new, and nothing may dial again."""
ANSWERED = frozenset({"completed", "answered", "bridged"})
NOT_ANSWERED_EXCEPT = frozenset({"leave", "hangup"})
RECORDING_URL = "https://recordings.invalid/explore"
RECORDING_SECONDS = 10


@dataclass(frozen=True)
class Tick:
    """A class of queue positions: one waitUrl request (``wait:`` in a transcript)."""

    name: str
    position: int
    seconds: int


TICKS = (Tick("first", 3, 0), Tick("short", 2, 90), Tick("long", 8, 660))
"""First tick; a short wait; a long wait past the callback-offer threshold (10 minutes
expected at 2 minutes a caller). Ticks only move forward: a later tick never has waited
less."""


@dataclass(frozen=True)
class Listen:
    """What a Gather accepts (enough to cut keys as a phone does)."""

    input: str
    num_digits: int
    finish_on_key: str
    fallthrough: bool

    @property
    def speech(self) -> bool:
        return "speech" in self.input


@dataclass(frozen=True)
class Waiting:
    """What can arrive next, read off the last actions (and the queue the caller is in).

    ``queue`` is None when the caller is not in a queue, else the index of the last tick
    class seen (-1: none yet).
    """

    gather: Listen | None = None
    record: bool = False
    dial: bool = False
    queue: int | None = None
    leave: bool = False
    redirect: bool = False
    ended: bool = False

    @property
    def continues(self) -> bool:
        """False when the TwiML ends with nothing to wait for: Twilio hangs up."""
        return bool(self.gather or self.record or self.dial or self.queue is not None
                    or self.leave or self.redirect or self.ended)


def waiting_after(actions: Sequence[Action], call: CallState, before: Waiting,
                  event: Event | None) -> Waiting:
    """What can arrive after ``actions`` (answering ``event`` in moment ``before``)."""
    gather: Gather | None = None
    record = dialled = enqueued = left = redirect = False
    hung_up = call.ended
    for a in actions:
        if isinstance(a, Gather):
            gather = gather or a
        elif isinstance(a, Record):
            record = True
        elif isinstance(a, Dial):
            dialled = True
        elif isinstance(a, Enqueue):
            dialled = enqueued = True
        elif isinstance(a, Hangup):
            hung_up = True
        elif isinstance(a, Leave):
            left = True
        elif isinstance(a, Redirect):
            redirect = True
    if hung_up:
        return _ENDED
    if event is not None and event.kind is EventKind.LEG:
        return before  # the person's phone reported: the caller still waits on the Dial
    queue: int | None = None
    if enqueued:
        queue = -1
    elif before.queue is not None and not left and (
            event is None or event.kind is not EventKind.DIAL_RESULT):
        queue = before.queue
        if event is not None and event.kind is EventKind.QUEUE_TICK and event.queue:
            queue = next((i for i, t in enumerate(TICKS) if t.seconds == event.queue.waited),
                         queue)
    listen = Listen(gather.input, gather.num_digits, gather.finish_on_key,
                    gather.fallthrough) if gather is not None else None
    return Waiting(listen, record, dialled or queue is not None, queue, left, redirect)


_ENDED = Waiting(ended=True)


@dataclass(frozen=True)
class Input:
    """One thing the caller or the network does; ``kind`` and ``value`` are its transcript
    step (``press: "0"``). ``human``: it asks for a person; ``confusion``: silence or
    garbage (invariant c)."""

    kind: str
    value: Any = True
    confidence: float | None = None
    human: bool = False
    confusion: bool = False

    def label(self) -> str:
        if self.kind == "say" and self.confidence is not None:
            return f"say {quote(str(self.value))} (confidence {self.confidence})"
        if self.kind in ("press", "say", "dial_result", "leg"):
            return f"{self.kind} {quote(str(self.value))}"
        if self.kind == "record":
            return "no recording (duration 0)"
        if self.kind == "wait":
            return f"queue tick (position {self.value[0]}, {self.value[1]} s waited)"
        return {"recording": "a recording", "silence": "silence"}.get(self.kind, self.kind)

    def step(self) -> dict[str, Any]:
        """The transcript step (a mapping of one caller key, plus ``confidence``)."""
        if self.kind == "wait":
            return {"wait": {"position": self.value[0], "seconds": self.value[1]}}
        out: dict[str, Any] = {self.kind: self.value}
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return out


def quote(text: str) -> str:
    """``text`` as a double-quoted string that is valid JSON and YAML and shows every
    character that does not print as an escape (``"lost\\u000bcard"``)."""
    return "".join(ch if ch.isprintable() or ch == " " else f"\\u{ord(ch):04x}"
                   for ch in json.dumps(text, ensure_ascii=False))


def event(inp: Input, wait: Waiting, now: datetime) -> Event:
    """The engine event for ``inp`` at moment ``wait``: as EngineDriver builds it."""
    if inp.kind == "record":
        return Event(EventKind.RECORDING, url="", duration=0, now=now)
    if inp.kind == "wait":
        pos, seconds = inp.value
        return Event(EventKind.QUEUE_TICK, queue=QueueStatus(pos, seconds), now=now)
    if inp.kind == "recording":
        return Event(EventKind.RECORDING, url=RECORDING_URL, duration=RECORDING_SECONDS,
                     now=now)
    s = Step(0, 0, inp.kind, str(inp.value) if inp.kind != "silence" else "",
             inp.confidence)
    if inp.kind == "press" and wait.gather is not None:
        digits = keypad(str(inp.value), wait.gather.num_digits, wait.gather.finish_on_key)
        return Event.press(digits, now) if digits else Event.silence(now)
    return event_for(s, now)


Alphabet = Callable[[Compiled, CallState, Waiting, bool], list[Input]]


def alphabet(c: Compiled, call: CallState, wait: Waiting, ticks: bool) -> list[Input]:
    """Every input that can arrive at this moment of the call (the one place to extend).

    Args:
        c: The flow.
        call: The call as it is now.
        wait: What the last actions wait for (:func:`waiting_after`).
        ticks: Whether the engine takes queue ticks (waiting is an engine state).
    """
    if wait.ended:
        return []
    flow, out = c.flow, []
    if wait.gather is not None:
        human_keys = set(flow.human.keys)
        out += [Input("press", k, human=k in human_keys) for k in KEYS]
        out += [Input("press", k, human=True) for k in flow.human.keys if k not in KEYS]
        out.append(Input("press", GARBAGE, confusion=True))
        state = flow.states.get(call.state)
        if state is not None and state.collect is not None:
            out.append(Input("press", ENTRY[:state.collect.min_digits] + "#"))
        if wait.gather.num_digits == 0 and "#" in wait.gather.finish_on_key:
            out.append(Input("press", PHONE))
        if not wait.gather.fallthrough:
            out.append(Input("silence", True, confusion=True))
        if wait.gather.speech:
            out += _speech(c, call)
    if wait.record:
        out += [Input("recording", True), Input("record", "none", confusion=True)]
    if wait.leave:
        out.append(Input("dial_result", "leave"))
    elif wait.dial:
        out += [Input("dial_result", s) for s in DIAL_RESULTS]
        if wait.queue is None:  # a Dial (not a queue): its <Number> reports progress
            out += [Input("leg", s) for s in LEG_REPORTS]
    if ticks and wait.queue is not None and wait.gather is None and not wait.leave:
        out += [Input("wait", (t.position, t.seconds)) for i, t in enumerate(TICKS)
                if i >= wait.queue]
    if wait.redirect and wait.gather is None and wait.queue is None:
        out.append(Input("silence", True, confusion=True))  # the Redirect posts, empty
    out.append(Input("hangup", True))
    return out


HOSTILE = ("lost\x0bmy card", "my card\x00 is gone", "\ufffe")
"""Speech no recogniser should send but a forged or broken webhook can: control characters
XML cannot carry (they reach the whisper and the inbox through the caller's words)."""


def hostile(c: Compiled, call: CallState, wait: Waiting, ticks: bool) -> list[Input]:
    """:func:`alphabet` plus :data:`HOSTILE` speech wherever speech is heard (an example of
    extending the alphabet: ``explore(..., inputs=hostile)``)."""
    out = alphabet(c, call, wait, ticks)
    if wait.gather is not None and wait.gather.speech:
        out += [Input("say", text) for text in HOSTILE]
    return out


def _speech(c: Compiled, call: CallState) -> list[Input]:
    flow = c.flow
    mine = {p.lower() for p in language.human_phrases(flow, call.language)}
    phrases = list(flow.human.phrases)
    for tr in flow.human.translations.values():
        phrases += [str(p) for p in (tr or {}).get("phrases") or ()]
    out = [Input("say", p, human=p.lower() in mine) for p in dict.fromkeys(phrases)]
    state = flow.states.get(call.state)
    if state is not None:
        default = {i.name: i.phrases[:1] for i in state.intents}
        for i in language.intents(state, call.language):
            for p in dict.fromkeys((*i.phrases[:1], *default.get(i.name, ()))):
                out.append(Input("say", p))
            if i.phrases:
                out.append(Input("say", i.phrases[0], UNSURE))
    out.append(Input("say", OUT_OF_SCOPE, confusion=True))
    out += [Input("say", w) for w in YES_NO]
    return out


def not_answered(status: str) -> bool:
    """A dial result that means nobody took the call (busy, no answer, failed, ...)."""
    return status not in ANSWERED and status not in NOT_ANSWERED_EXCEPT
