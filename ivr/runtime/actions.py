"""Actions the engine asks for, as data: a :data:`Verb` (one frozen dataclass per TwiML
verb) or a :class:`Job` (a side effect for after the turn: not a verb, renders nothing).

The engine returns a list of actions; :mod:`ivr.telephony.twiml` is the only place that
turns verbs into TwiML, and the store commits the jobs with the turn. Callback URLs are not
URLs here but *event names* (``"turn"``, ``"dial"``, ``"recording"``): the renderer turns
them into the flow's webhook URLs, the simulator and replayer ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Say:
    """Speak ``text`` to the caller."""

    text: str
    voice: str = ""
    language: str = ""


@dataclass(frozen=True)
class Play:
    """Play an audio file."""

    url: str


@dataclass(frozen=True)
class Pause:
    """Silence for ``seconds``."""

    seconds: int = 1


@dataclass(frozen=True)
class Gather:
    """Collect keys and/or speech while playing ``prompts`` (barge-in: keys interrupt).

    ``input`` is "dtmf", "speech" or "dtmf speech". ``hints`` feed Twilio's ASR.
    ``action`` is the event name the result posts to.
    """

    prompts: tuple[Say | Play | Pause, ...]
    input: str = "dtmf speech"
    num_digits: int = 0
    finish_on_key: str = "#"
    timeout: int = 5
    speech_timeout: str = "auto"
    hints: tuple[str, ...] = ()
    language: str = ""
    action: str = "turn"
    fallthrough: bool = False
    """No key pressed: go on with the verbs after it (e.g. a Record), instead of posting
    an empty result / redirecting to the no-input event."""
    speech_model: str = ""
    """Twilio's speechModel (empty: Twilio chooses); ``speech_timeout`` is then seconds."""


@dataclass(frozen=True)
class Dial:
    """Connect to a person at ``number``; ``whisper`` is read to them first."""

    number: str
    whisper: str = ""
    timeout: int = 20
    caller_id: str = ""
    action: str = "dial"


@dataclass(frozen=True)
class Enqueue:
    """Put the caller in a Twilio queue named ``name``."""

    name: str
    action: str = "dial"


@dataclass(frozen=True)
class Record:
    """Record a message (voicemail) up to ``max_length`` seconds."""

    max_length: int = 120
    finish_on_key: str = "#"
    play_beep: bool = True
    timeout: int = 5
    action: str = "recording"
    transcribe: bool = False
    """Ask Twilio for a transcription, posted later to the ``transcription`` URL."""


@dataclass(frozen=True)
class Redirect:
    """Continue at the webhook for event ``event`` (e.g. silence after a Gather)."""

    event: str = "no_input"


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class Leave:
    """Leave the Twilio queue (in a waitUrl document); the Enqueue action gets 'leave'."""


@dataclass(frozen=True)
class Job:
    """Slow work to do after this turn (not TwiML): ``kind`` names an RQ job."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


Verb = Say | Play | Pause | Gather | Dial | Enqueue | Record | Redirect | Hangup | Leave
"""What the caller hears or Twilio does: the TwiML verbs."""
Action = Verb | Job
"""What a step returns: verbs for this turn's TwiML, jobs for after it."""

VERBS: dict[str, type] = {c.__name__.lower(): c for c in
                          (Say, Play, Pause, Gather, Dial, Enqueue, Record, Redirect, Hangup,
                           Leave)}


def spoken(actions: list[Action]) -> list[str]:
    """Everything the caller hears in ``actions``, in order (for simulate/replay/tests)."""
    out: list[str] = []
    for a in actions:
        if isinstance(a, Say):
            out.append(a.text)
        elif isinstance(a, Gather):
            out.extend(p.text for p in a.prompts if isinstance(p, Say))
    return out


def kind_name(action: Action) -> str:
    """Lower-case verb name: 'say', 'gather', 'dial', ... (for transcripts' ``action``)."""
    return type(action).__name__.lower()
