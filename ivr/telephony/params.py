"""Twilio's webhook parameters → engine events, read defensively.

Everything here is untrusted text: a CallSid must look like one, digits keep only DTMF
characters (ASCII: ``²`` or fullwidth digits are garbage, not numbers), counts are ASCII
digits or unknown, speech is trimmed, a confidence outside 0..1 is unknown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from ivr.flowlang import phone
from ivr.runtime.events import MAX_POSITION, MAX_SECONDS, MAX_TEXT, Event, EventKind, QueueStatus

_DTMF = frozenset("0123456789*#")
_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_COUNT = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,12})?")
"""ASCII only: a regex digit class would accept fullwidth and other scripts' digits."""


class BadParams(ValueError):
    """A webhook we cannot act on (missing CallSid, bad turn): the caller still gets help."""


def is_sid(text: str) -> bool:
    """True when ``text`` looks like a Twilio SID (letters, digits, ``_``, ``-``; 1-64)."""
    return bool(_SID.match(text))


def call_sid(params: Mapping[str, str]) -> str:
    """The request's CallSid; BadParams when missing or malformed."""
    sid = params.get("CallSid") or ""
    if not is_sid(sid):
        raise BadParams(f"missing or malformed CallSid {sid[:80]!r}")
    return sid


def count(raw: str | None) -> int | None:
    """An ASCII decimal count (``"12"`` → 12); None for anything else (``"²"``, ``"-1"``)."""
    text = (raw or "").strip()
    return int(text) if _COUNT.fullmatch(text) else None


def caller_number(raw: str) -> str:
    """The caller's number from ``From``/``To`` (see :func:`ivr.flowlang.phone.cleaned`)."""
    return phone.cleaned(raw)


def _confidence(raw: str | None) -> float | None:
    """Twilio's 0..1 speech confidence (ASCII decimal), else None (unknown)."""
    text = (raw or "").strip()
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) and 0 <= value <= 1 else None


ANSWERED_BY = frozenset({"human", "unknown", "machine_start", "machine_end_beep",
                         "machine_end_silence", "machine_end_other", "fax"})
"""Twilio's ``AnsweredBy`` values (answering-machine detection on a call we placed)."""


def answered_by(params: Mapping[str, str]) -> str:
    """Twilio's ``AnsweredBy`` on a call we placed ('' when absent or not one of its values)."""
    value = (params.get("AnsweredBy") or "").strip().lower()
    return value if value in ANSWERED_BY else ""


def event_from(event: str, params: Mapping[str, str], now: datetime | None = None) -> Event:
    """Map a Twilio webhook's parameters to an Event; garbage becomes a no-input or no-match.

    ``event`` is the name in the action URL: "start", "turn", "no_input", "dial",
    "recording". Digits keep only DTMF characters; speech is trimmed to MAX_TEXT.
    """
    now = now or datetime.now(UTC)
    if event == "start":
        return Event(EventKind.START, status=answered_by(params), now=now)
    if event == "dial":
        return Event(EventKind.DIAL_RESULT, status=(params.get("DialCallStatus") or
                     params.get("QueueResult") or "failed")[:40], now=now)
    if event == "recording":
        return Event(EventKind.RECORDING, url=(params.get("RecordingUrl") or "")[:500],
                     duration=count(params.get("RecordingDuration")) or 0, now=now)
    raw_digits = params.get("Digits") or ""
    if raw_digits:
        digits = "".join(c for c in raw_digits if c in _DTMF)[:40]
        return Event(EventKind.DIGITS, digits=digits, now=now)
    speech = (params.get("SpeechResult") or "").strip()[:MAX_TEXT]
    if speech:
        return Event(EventKind.SPEECH, text=speech,
                     confidence=_confidence(params.get("Confidence")), now=now)
    return Event(EventKind.NO_INPUT, now=now)


_LEG_STATUS = {"queued": "initiated", "initiated": "initiated", "ringing": "ringing",
               "in-progress": "answered", "answered": "answered", "completed": "completed",
               "busy": "completed", "no-answer": "completed", "failed": "completed",
               "canceled": "completed"}
"""A ``<Number>`` leg's CallStatus → how far it got (:data:`~ivr.runtime.events.LEG_PROGRESS`)."""


def leg_event(params: Mapping[str, str], now: datetime | None = None) -> Event | None:
    """The progress of the person's phone leg of a Dial (the ``<Number>`` status callback:
    CallStatus, CallDuration), or None when CallStatus is none of Twilio's values."""
    status = _LEG_STATUS.get((params.get("CallStatus") or "").strip().lower())
    if status is None:
        return None
    seconds = count(params.get("CallDuration")) or 0 if status == "completed" else 0
    return Event.leg(status, min(seconds, MAX_SECONDS), now or datetime.now(UTC))


def queue_number(raw: str | None, limit: int = MAX_SECONDS) -> int:
    """A Twilio count as an int in [0, limit]; garbage, negative or huge values are 0."""
    text = (raw or "").strip()
    if not _DECIMAL.fullmatch(text) or len(text.split(".")[0]) > 9:
        return 0
    value = int(float(text))
    return value if value <= limit else 0


def queue_status(params: Mapping[str, str]) -> QueueStatus:
    """The QueueStatus in a waitUrl request's parameters."""
    return QueueStatus(queue_number(params.get("QueuePosition"), MAX_POSITION),
                       queue_number(params.get("QueueTime")),
                       queue_number(params.get("AvgQueueTime")),
                       queue_number(params.get("CurrentQueueSize"), MAX_POSITION))
