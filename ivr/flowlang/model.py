"""The flow model: frozen dataclasses built from structurally valid YAML data.

``build_flow`` runs only after :func:`ivr.flowlang.schema.check_structure` found no errors, so it
may assume types are right; what it adds are the defaults (retries, human phrases) and the
derived facts the checker and the engine both use (each state's kind and targets).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

HUMAN = "human"
"""The reserved target name of the escape hatch: ``goto: human`` works everywhere."""

DEFAULT_HUMAN_PHRASES = ("agent", "operator", "representative", "real person", "human",
                         "speak to someone", "talk to a person")


class Kind(StrEnum):
    """What a state does; one per state, told by which prompt key it has."""

    SAY = "say"
    MENU = "menu"
    COLLECT = "collect"
    CAPTURE = "capture"
    VOICEMAIL = "voicemail"
    GOODBYE = "goodbye"
    HOURS = "hours"


PROMPT_KEYS = ("say", "ask", "capture", "voicemail", "goodbye", "hours")
"""The YAML keys that make a state what it is (exactly one per state); ``ask`` is a menu,
or a collect when the state also has ``collect``."""

OTHER = "other"
"""The "none of these" intent every menu has (IVR302)."""


def prompt_key(kind: Kind) -> str:
    """The YAML key holding the text a state of ``kind`` speaks ('' for hours)."""
    if kind in (Kind.MENU, Kind.COLLECT):
        return "ask"
    return "" if kind is Kind.HOURS else kind.value


WAITING = frozenset({Kind.MENU, Kind.COLLECT, Kind.CAPTURE, Kind.VOICEMAIL})
"""Kinds that wait for the caller (a turn ends there)."""


@dataclass(frozen=True)
class Retries:
    """Bounded re-prompting: after ``no_input`` silences or ``no_match`` misses, go ``then``."""

    no_input: int = 2
    no_match: int = 2
    then: str = HUMAN


@dataclass(frozen=True)
class Intent:
    """One menu choice."""

    name: str
    goto: str
    keys: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    confirm: str = ""


@dataclass(frozen=True)
class Collect:
    """Digits entry into a slot."""

    slot: str
    max_digits: int
    min_digits: int = 1
    sensitive: bool = False


@dataclass(frozen=True)
class State:
    """One step of a call. ``prompt`` is the text of its kind key (say/ask/capture/...)."""

    name: str
    kind: Kind
    prompt: str = ""
    reprompt: str = ""
    next: str = ""
    intents: tuple[Intent, ...] = ()
    collect: Collect | None = None
    retries: Retries = field(default_factory=Retries)
    open: str = ""
    closed: str = ""
    record: bool = False
    """capture only: record the caller's words (audio + transcription)."""
    translations: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False,
                                                     compare=False)
    """Language code → the state's texts in it (same keys as YAML: ask, reprompt, intents)."""
    speech: Speech | None = None
    """How Twilio listens at this prompt, over the flow's ``speech`` (None: the flow's)."""

    def targets(self) -> dict[str, str]:
        """Outgoing edges: trigger name → destination state."""
        edges: dict[str, str] = {}
        for intent in self.intents:
            edges[f"intent_{intent.name}"] = intent.goto
        if self.next:
            edges["next"] = self.next
        if self.kind is Kind.HOURS:
            edges["open"], edges["closed"] = self.open, self.closed
        if self.kind in WAITING - {Kind.VOICEMAIL, Kind.CAPTURE}:
            edges["give_up"] = self.retries.then
        return edges


@dataclass(frozen=True)
class Human:
    """Where a person is and how callers ask for one."""

    keys: tuple[str, ...]
    phrases: tuple[str, ...]
    dial: str = ""
    enqueue: str = ""
    timeout: int = 20
    when_closed: str = ""
    callback_promise: str = "within one business day"
    translations: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False,
                                                     compare=False)


@dataclass(frozen=True)
class Hours:
    """Business hours; ``open`` maps day specs ('mon-fri') to 'HH:MM-HH:MM' ranges."""

    timezone: str
    open: tuple[tuple[str, str], ...]
    holidays: str = ""


@dataclass(frozen=True)
class Language:
    """A language besides the flow's default, chosen by pressing ``key`` in a menu."""

    code: str
    key: str
    offer: str
    voice: str = ""


SPEECH_MODELS = (
    "default", "numbers_and_commands", "phone_call", "experimental_conversations",
    "experimental_utterances", "googlev2_long", "googlev2_short", "googlev2_telephony",
    "googlev2_telephony_short", "deepgram_nova-2", "deepgram_nova-3")
"""Twilio's documented ``<Gather speechModel>`` values."""


@dataclass(frozen=True)
class Speech:
    """How Twilio listens at a prompt (``<Gather>``): its speech model, how long a pause
    ends the caller's words (``auto`` or whole seconds; whole seconds whenever a model is
    set), extra recognition hints and the recogniser's language. Empty: Twilio's default."""

    model: str = ""
    timeout: str = ""
    """``auto``, whole seconds, or empty when not given (Twilio's ``auto``)."""
    hints: tuple[str, ...] = ()
    language: str = ""

    def over(self, base: Speech) -> Speech:
        """These settings where given, ``base``'s elsewhere (a state's over its flow's)."""
        return Speech(self.model or base.model, self.timeout or base.timeout,
                      self.hints or base.hints, self.language or base.language)

    @property
    def auto(self) -> bool:
        """Twilio decides when the caller's words end (``speechTimeout="auto"``)."""
        return self.timeout in ("", "auto")


def _speech(data: dict[str, Any] | None) -> Speech | None:
    if not data:
        return None
    return Speech(str(data.get("model", "")), str(data.get("timeout", "")),
                  tuple(data.get("hints", ())), str(data.get("language", "")))


@dataclass(frozen=True)
class Matching:
    """Speech matching thresholds (scores are 0..1)."""

    threshold: float = 0.62
    margin: float = 0.08
    confirm_below: float = 0.75
    meaning_veto: float = 0.10
    """``semantic_matching``: "not this menu" nearer than the intent by this: "other"."""
    meaning_margin: float = 0.14
    """``semantic_matching``: the intent nearer than "not this menu" by this: no question."""
    meaning_sure: float = 0.70
    """``semantic_matching``: an "other" this near (cosine) to an intent is asked about."""


MATCHING_KEYS = tuple(f.name for f in fields(Matching))


@dataclass(frozen=True)
class Flow:
    """A complete, checked call flow."""

    id: str
    start: str
    human: Human
    states: dict[str, State]
    version: str = ""
    language: str = "en-US"
    voice: str = ""
    hours: Hours | None = None
    matching: Matching = field(default_factory=Matching)
    description: str = ""
    languages: tuple[Language, ...] = ()
    speech: Speech = field(default_factory=Speech)

    def speech_at(self, state: State | None) -> Speech:
        """How Twilio listens at ``state`` (its own settings over the flow's)."""
        own = state.speech if state is not None else None
        return own.over(self.speech) if own is not None else self.speech

    def __hash__(self) -> int:
        return hash((self.id, self.version))


def version_of(text: str) -> str:
    """Content hash that pins a flow version (first 12 hex digits of SHA-256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def kind_of(data: dict[str, Any]) -> Kind | None:
    """The kind of a raw state mapping, or None when it has no prompt key."""
    for key in PROMPT_KEYS:
        if key in data:
            if key == "ask":
                return Kind.COLLECT if "collect" in data else Kind.MENU
            return Kind(key)
    return None


def _retries(data: dict[str, Any] | None, base: Retries) -> Retries:
    data = data or {}
    return Retries(data.get("no_input", base.no_input), data.get("no_match", base.no_match),
                   data.get("then", base.then))


def _state(name: str, data: dict[str, Any], base: Retries) -> State:
    kind = kind_of(data) or Kind.SAY
    prompt = data.get("ask") or data.get(kind.value, "") if kind is not Kind.HOURS else ""
    intents = tuple(
        Intent(iname, i["goto"], tuple(i.get("keys", ())), tuple(i.get("phrases", ())),
               tuple(i.get("not", ())), i.get("confirm", ""))
        for iname, i in (data.get("intents") or {}).items())
    c = data.get("collect")
    collect = Collect(c["slot"], c["max_digits"], c.get("min_digits", c["max_digits"]),
                      bool(c.get("sensitive", False))) if c else None
    hours = data.get("hours") or {}
    nxt = data.get("next") or data.get("then") or ""
    if kind is Kind.CAPTURE and not nxt:
        nxt = HUMAN
    return State(name, kind, str(prompt), data.get("reprompt", ""), nxt, intents, collect,
                 _retries(data.get("retries"), base), hours.get("open", ""),
                 hours.get("closed", ""), bool(data.get("record", False)),
                 dict(data.get("translations") or {}), _speech(data.get("speech")))


def build_flow(data: dict[str, Any], version: str = "") -> Flow:
    """Build a :class:`Flow` from structurally valid data (see ``ivr.flowlang.schema``)."""
    base = _retries(data.get("retries"), Retries())
    h = data["human"]
    human = Human(tuple(h["keys"]), tuple(h["phrases"]), h.get("dial", ""),
                  h.get("enqueue", ""), h.get("timeout", 20), h.get("when_closed", ""),
                  h.get("callback_promise", Human.callback_promise),
                  dict(h.get("translations") or {}))
    hours = None
    if "hours" in data:
        hd = data["hours"]
        hours = Hours(hd["timezone"], tuple((str(k), str(v)) for k, v in hd["open"].items()),
                      hd.get("holidays", ""))
    m = data.get("matching") or {}
    matching = Matching(**{k: m[k] for k in MATCHING_KEYS if k in m})
    states = {n: _state(n, s, base) for n, s in data["states"].items()}
    languages = tuple(Language(code, v["key"], v["offer"], v.get("voice", ""))
                      for code, v in (data.get("languages") or {}).items())
    return Flow(data["flow"], data["start"], human, states, version,
                data.get("language", "en-US"), data.get("voice", ""), hours, matching,
                data.get("description", ""), languages,
                _speech(data.get("speech")) or Speech())
