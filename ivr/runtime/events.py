"""Events (what the caller did) and the call state (where the call is), both plain data.

The web layer turns Twilio's parameters into an :class:`Event` with
:func:`ivr.telephony.params.event_from`;
the simulator and the replayer build the same events from typed input. :class:`CallState`
is what lives in Redis between turns, as small JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

MAX_TEXT = 500
PER_CALLER = 120          # seconds per caller ahead when Twilio's average is unknown
MAX_SECONDS = 24 * 3600   # any larger QueueTime / AvgQueueTime is nonsense: unknown
MAX_POSITION = 10_000


class EventKind(StrEnum):
    START = "start"
    DIGITS = "digits"
    SPEECH = "speech"
    NO_INPUT = "no_input"
    DIAL_RESULT = "dial_result"
    RECORDING = "recording"
    QUEUE_TICK = "queue_tick"
    LEG = "leg"
    HANGUP = "hangup"


LEG_PROGRESS = ("initiated", "ringing", "answered", "completed")
"""How the person's phone leg of a Dial gets on, in order (Twilio's ``statusCallbackEvent``
on ``<Number>``; a leg that ended busy, unanswered or failed reports ``completed``)."""


@dataclass(frozen=True)
class QueueStatus:
    """Where the caller is in the queue; 0 means unknown."""

    position: int = 0
    waited: int = 0
    average: int = 0
    size: int = 0

    @property
    def expected(self) -> int:
        """Expected seconds until a person answers (position x seconds per caller)."""
        per_caller = self.average if 0 < self.average <= MAX_SECONDS else PER_CALLER
        return min(max(self.position, 1) * per_caller, MAX_SECONDS)


@dataclass(frozen=True)
class Event:
    """One thing that happened on the call. ``now`` is the clock the engine uses."""

    kind: EventKind
    digits: str = ""
    text: str = ""
    confidence: float | None = None
    status: str = ""
    url: str = ""
    duration: int = 0
    queue: QueueStatus | None = None
    """QUEUE_TICK: where the caller is in the queue (Twilio's waitUrl parameters)."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def start(cls, now: datetime | None = None, answered_by: str = "") -> Event:
        """A call starts; ``answered_by`` is Twilio's answering-machine verdict on a call we
        placed (``human``, ``machine_end_beep``, ``fax``...), kept in ``status``."""
        return cls(EventKind.START, status=answered_by, now=now or datetime.now(UTC))

    @classmethod
    def press(cls, digits: str, now: datetime | None = None) -> Event:
        return cls(EventKind.DIGITS, digits=digits, now=now or datetime.now(UTC))

    @classmethod
    def speech(cls, text: str, confidence: float | None = None,
               now: datetime | None = None) -> Event:
        """The caller said ``text`` (Twilio's SpeechResult)."""
        return cls(EventKind.SPEECH, text=text, confidence=confidence,
                   now=now or datetime.now(UTC))

    @classmethod
    def silence(cls, now: datetime | None = None) -> Event:
        return cls(EventKind.NO_INPUT, now=now or datetime.now(UTC))

    @classmethod
    def dialled(cls, status: str, now: datetime | None = None) -> Event:
        """A Dial or Enqueue ended: DialCallStatus / QueueResult (``busy``, ``leave``...)."""
        return cls(EventKind.DIAL_RESULT, status=status, now=now or datetime.now(UTC))

    @classmethod
    def recorded(cls, url: str, duration: int, now: datetime | None = None) -> Event:
        """A Record ended; no message when ``duration`` is 0 or there is no ``url``."""
        return cls(EventKind.RECORDING, url=url, duration=duration,
                   now=now or datetime.now(UTC))

    @classmethod
    def tick(cls, queue: QueueStatus, now: datetime | None = None) -> Event:
        """Twilio asked for the wait document: the caller is waiting in the queue."""
        return cls(EventKind.QUEUE_TICK, queue=queue, now=now or datetime.now(UTC))

    @classmethod
    def leg(cls, status: str, seconds: int = 0, now: datetime | None = None) -> Event:
        """The person's phone leg of a Dial got on (one of :data:`LEG_PROGRESS`): it rang,
        was answered, or ended after ``seconds``. It changes nothing the caller hears."""
        return cls(EventKind.LEG, status=status, duration=seconds,
                   now=now or datetime.now(UTC))

    @classmethod
    def hangup(cls, now: datetime | None = None) -> Event:
        """The caller hung up (status callback)."""
        return cls(EventKind.HANGUP, now=now or datetime.now(UTC))

    @property
    def recording(self) -> bool:
        """A RECORDING event that carries a message (a URL and more than 0 seconds)."""
        return self.kind is EventKind.RECORDING and bool(self.url) and self.duration > 0


@dataclass
class CallState:
    """Everything the engine needs between turns (kept small: it is JSON in Redis).

    ``turn`` increases by one per accepted webhook: the web layer puts it in action URLs so
    a duplicate or stale delivery is recognised and not applied twice.
    """

    sid: str
    flow: str
    version: str
    state: str = ""
    turn: int = 0
    no_input: int = 0
    no_match: int = 0
    pending: str = ""
    slots: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    reason: str = ""
    fell_through: str = ""
    """What the caller said at the menu that no intent fit (redacted): the inbox keeps it
    beside their answer to the capture prompt."""
    heard: str = ""
    outcome: str = ""
    caller: str = ""
    whisper: str = ""
    history: str = ""
    callback: str = ""
    attempt: int = 0
    """A callback call: which try it is (1 for the first; 0 for a caller's own call)."""
    language: str = ""
    started: str = ""
    ended: bool = False
    leg: int = 0
    """The turn whose action URLs a Dial or Enqueue carries: its result may arrive after
    later turns (queue ticks), and is applied to the call as it is then."""
    waited: int = 0
    """Seconds the caller had waited in the queue at the last tick (Twilio's QueueTime)."""
    ticks: int = 0
    """Queue ticks so far (0: the next one is the first wait announcement)."""
    expected: int = 0
    """Seconds until a person answers, as last estimated in the queue."""
    progress: str = ""
    """How far the person's phone leg of the current Dial got: ``<leg>:<status>`` (one of
    :data:`LEG_PROGRESS`); a report for an older leg, or not further on, is not news."""
    picked_up: str = ""
    """When the person answered (ISO time): time to a person is this minus ``started``."""
    hops: list[str] = field(default_factory=list)
    """Every edge ``src>trigger>dest`` this turn took (``edges`` keeps only the last few)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict without empty fields (kept small: it is stored every turn)."""
        out: dict[str, Any] = {}
        values = self.__dict__  # the fields without a getattr call each (it runs every turn)
        for name in _FIELDS:
            v = values[name]
            if v or name in _ALWAYS:
                kind = v.__class__
                out[name] = v if kind is str or kind is int or kind is bool else list(
                    v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallState:
        try:  # every turn reads one: no filtering pass unless a name is not a field
            return cls(**data)
        except TypeError:  # a field this version does not have (or a required one missing)
            return cls(**{k: v for k, v in data.items() if k in _FIELD_SET})


_FIELDS = tuple(f.name for f in fields(CallState))
_FIELD_SET = frozenset(_FIELDS)
_ALWAYS = frozenset({"sid", "flow", "version", "turn"})
