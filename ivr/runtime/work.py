"""The working state of one engine step, shared by the engine's parts (pure).

:class:`Work` is scratch space for one call of :func:`ivr.runtime.engine.step`: the
compiled flow, the call being changed, the event, what to say and the actions so far.
Each part of the engine (menus in :mod:`ivr.runtime.engine`, the person and voicemail in
:mod:`ivr.runtime.person`, the queue in :mod:`ivr.runtime.queueing`) reads and writes it,
and says where to go next by returning a trigger name; only the engine moves the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ivr.flowlang.machine import Compiled
from ivr.flowlang.model import Flow, Intent, State
from ivr.runtime import language, prompts
from ivr.runtime.actions import Action, Gather, Job, Say
from ivr.runtime.events import CallState, Event, EventKind
from ivr.runtime.matcher import match
from ivr.runtime.meaning import Meaning
from ivr.runtime.redact import mask_number

MAX_HINTS = 100
"""Hints sent with one Gather (the human phrases first, then the prompt's own)."""

PATH_KEEP = 24
"""How many states and edges a call keeps in ``path``/``edges`` (the whisper, the console)."""


@dataclass(frozen=True)
class Options:
    """What the engine needs from the deployment rather than the flow (plain values).

    ``offer_every`` and ``offer_threshold`` are minutes (0 turns that offer off).
    ``callback_regions`` are the countries callbacks may ring (empty: the flow's own) and
    ``callback_over_limit`` the E.164 numbers that had their callbacks for today (the web
    layer counts them; see :mod:`ivr.runtime.callback_policy`). ``meaning`` is the
    second opinion on menu speech (:mod:`ivr.runtime.meaning`; None: lexical only).
    """

    hold_music_url: str = ""
    offer_every: int = 5
    offer_threshold: int = 10
    callback_regions: tuple[str, ...] = ()
    callback_over_limit: frozenset[str] = frozenset()
    meaning: Meaning | None = None


DEFAULTS = Options()


@dataclass
class Work:
    """Scratch space for one step: the flow, the call being changed and what to say."""

    c: Compiled
    call: CallState
    event: Event
    options: Options = DEFAULTS
    out: list[Action] = field(default_factory=list)
    said: list[Say] = field(default_factory=list)
    trigger: str = ""
    """The trigger that brought the call into the state it is entering (or "")."""

    @property
    def flow(self) -> Flow:
        return self.c.flow

    @property
    def lang(self) -> str:
        """The language the caller chose ('' = the flow's default)."""
        return self.call.language

    def enter(self, trigger: str, dest: str) -> None:
        """Move the call into ``dest`` by ``trigger`` (the bookkeeping of every hop)."""
        edge = f"{self.call.state}>{trigger}>{dest}"
        self.call.state = dest
        self.call.no_input = self.call.no_match = 0
        self.call.pending = ""
        self.call.path.append(dest)
        self.call.edges.append(edge)
        self.call.hops.append(edge)
        self.trigger = trigger

    def say(self, text: str) -> None:
        """Queue ``text`` (one of the engine's sentences: translated) to be spoken."""
        voice, code = language.voice(self.flow, self.lang)
        self.said.append(Say(prompts.tr(text, self.lang), voice, code))

    def text(self, s: State, key: str = "prompt") -> str:
        return language.text(s, key, self.lang)

    def speak(self) -> None:
        """Move what is queued to be said into the actions (before a verb that waits)."""
        self.out.extend(self.said)
        self.said = []

    def code(self) -> str:
        """The language code of this call's voice."""
        return language.voice(self.flow, self.lang)[1]

    def keys_gather(self, num_digits: int = 1, timeout: int = 5, action: str = "turn",
                    finish: str = "", speech: bool = True) -> Gather:
        """A Gather around what is queued to be said: keys (and the human phrases)."""
        human = language.human_phrases(self.flow, self.lang)
        gather = Gather(tuple(self.said), "dtmf speech" if speech else "dtmf", num_digits,
                        finish, timeout, "auto", human if speech else (), self.code(),
                        action)
        self.said = []
        return self.listening(gather) if speech else gather

    def listening(self, g: Gather, state: State | None = None) -> Gather:
        """``g`` with the flow's speech settings at ``state`` (model, timeout, extra hints,
        the recogniser's language unless the caller chose another language)."""
        sp = self.flow.speech_at(state)
        n = len(language.human_phrases(self.flow, self.lang))  # the human phrases come first
        hints = (*g.hints[:n], *sp.hints, *g.hints[n:])
        lang = sp.language if sp.language and not self.lang else g.language
        return replace(g, speech_model=sp.model, speech_timeout=sp.timeout or "auto",
                       hints=tuple(dict.fromkeys(hints))[:MAX_HINTS], language=lang)

    def wants_human(self) -> bool:
        """The caller pressed a human key alone, or asked for a person in words."""
        e, h = self.event, self.flow.human
        if e.kind is EventKind.DIGITS:
            return e.digits in h.keys
        if e.kind is EventKind.SPEECH:
            phrases = language.human_phrases(self.flow, self.lang)
            return match(e.text, (), phrases, self.flow.matching,
                         human_keys=h.keys).kind == "human"
        return False

    def job(self, kind: str, **payload: object) -> None:
        """A job for after the turn, with the call's identity and the event's time."""
        base: dict[str, object] = {"sid": self.call.sid, "flow": self.flow.id,
                                   "at": self.event.now.isoformat()}
        self.out.append(Job(kind, {**base, **payload}))

    def callback_job(self, number: str = "", recording: str = "", duration: int = 0,
                     promise: str = "") -> None:
        """Ask a person to call this caller back (a voicemail, or a call back requested)."""
        extra = {"number": number} if number else {}
        if promise:
            extra["promise"] = promise
        self.job("callback", caller=self.call.caller, recording=recording, duration=duration,
                 reason=self.call.reason, slots=dict(self.call.slots),
                 path=self.call.path[-6:], **extra)

    def masked_caller(self) -> str:
        return mask_number(self.call.caller)


def intent_named(s: State, name: str, code: str = "") -> Intent:
    """The intent ``name`` of menu ``s`` in language ``code``."""
    return next(i for i in language.intents(s, code) if i.name == name)
