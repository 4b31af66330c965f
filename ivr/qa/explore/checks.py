"""The promise as predicates on one explored turn, and the problem codes that name them.

Each turn the explorer applies is a :class:`Turn`: the call before and after, the input,
the event and the actions. The checks read only those (and the flow), never the engine's
internals, so they hold whatever the engine does inside.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from xml.etree import ElementTree as ET

from ivr.flowlang.model import Flow, Kind
from ivr.qa.explore.alphabet import ANSWERED, Input, Waiting
from ivr.runtime.actions import (
    Action,
    Dial,
    Enqueue,
    Gather,
    Job,
    Record,
    Redirect,
    Say,
)
from ivr.runtime.events import CallState, Event, EventKind
from ivr.telephony import twiml

HUMAN_REQUEST = "IVR601"
END_WITHOUT_REASON = "IVR602"
CONFUSION_LOOP = "IVR603"
BAD_TWIML = "IVR604"
SAVED_WITHOUT_RECORDING = "IVR605"
ENGINE_ERROR = "IVR606"
LIMIT = "IVR607"
LEG_HEARD = "IVR608"

CODES = {
    HUMAN_REQUEST: "a human key or phrase does not reach a person within one turn",
    END_WITHOUT_REASON: "the call ends without a goodbye, a hang-up, a recording, a "
                        "callback or a person",
    CONFUSION_LOOP: "silence or garbage does not reach a person within the retry bound",
    BAD_TWIML: "the TwiML is not well-formed, or a Gather lacks its no-input Redirect",
    SAVED_WITHOUT_RECORDING: "the caller hears their message is saved, but no recording "
                             "arrived",
    ENGINE_ERROR: "the engine raised an exception",
    LIMIT: "the exploration stopped at --explore-limit configurations",
    LEG_HEARD: "a report of the person's phone (ringing, answered, hung up) changed what "
               "the caller hears or dialled again",
}

SAVED = re.compile(r"\b(saved|guardad[oa])\b", re.IGNORECASE)
"""What a "your message is saved" sentence says, in the languages the engine speaks."""
VERBS = ("hangup", "dial", "enqueue", "record", "gather")
PROMPTS = frozenset({"Say", "Play", "Pause"})


@dataclass
class Turn:
    """One applied input: what the checks look at."""

    before: CallState
    inp: Input
    event: Event
    after: CallState
    actions: list[Action]
    wait: Waiting
    closed: bool
    unanswered: bool
    recorded: bool
    """A recording with a duration above zero arrived (in this turn or earlier)."""
    said: list[str]
    """What the caller heard (:func:`ivr.runtime.actions.spoken`)."""
    queued: bool = False
    """The caller was waiting in a queue, so the response is a waitUrl document."""


def norm(text: str) -> str:
    return " ".join(text.split())


def goodbye_texts(flow: Flow) -> frozenset[str]:
    """The texts of the flow's goodbye states, in every language (normalised, lower-case)."""
    out = set()
    for s in flow.states.values():
        if s.kind is Kind.GOODBYE:
            out.add(norm(s.prompt).lower())
            for tr in s.translations.values():
                if isinstance(tr, dict) and tr.get("goodbye"):
                    out.add(norm(str(tr["goodbye"])).lower())
    return frozenset(out)


def recording_arrived(event: Event) -> bool:
    return event.kind is EventKind.RECORDING and bool(event.url) and event.duration > 0


def callback_promised(actions: Sequence[Action]) -> bool:
    return any(isinstance(a, Job) and a.kind == "callback" for a in actions)


def person(t: Turn) -> bool:
    """Invariant (a)'s goal: a person now (Dial/Enqueue, or still in line), or, when closed
    or nobody answered, a voicemail (a Record: its message gets a callback). A bare
    "we'll call you back" and a hang-up is not a person."""
    if any(isinstance(a, Dial | Enqueue) for a in t.actions) or t.wait.queue is not None:
        return True
    return (t.closed or t.unanswered) and t.wait.record


def reached(wait: Waiting) -> bool:
    """Invariant (c)'s goal, seen from the moment after a turn: a person is being rung,
    the caller is in line, or recording a voicemail for a callback (as IVR301 counts it)."""
    return wait.dial or wait.queue is not None or wait.record or wait.leave


def ends(t: Turn) -> bool:
    """The turn ends the call (Hangup, ended, or TwiML with nothing left to wait for)."""
    return t.wait.ended or not t.wait.continues


def end_reason(t: Turn, goodbyes: frozenset[str]) -> str:
    """Why the call may end here ('' when there is no good reason: invariant b)."""
    e = t.event
    if e.kind is EventKind.HANGUP or (e.kind is EventKind.DIAL_RESULT and e.status == "hangup"):
        return "the caller hung up"
    if e.kind is EventKind.DIAL_RESULT and e.status in ANSWERED:
        return "a person took the call"
    if t.recorded:
        return "a recording was saved"
    if callback_promised(t.actions) or (e.kind is EventKind.DIAL_RESULT and e.status == "leave"):
        return "a callback was promised"
    if any(norm(s).lower() in goodbyes for s in t.said):
        return "a goodbye state"
    return ""


def false_saved(t: Turn) -> str:
    """The "saved" sentence the caller hears without a recording ('' when none: inv. e)."""
    if t.recorded:
        return ""
    return next((s for s in t.said if _says_saved(s)), "")


@functools.lru_cache(maxsize=8192)
def _says_saved(text: str) -> bool:
    return SAVED.search(text) is not None


# --- TwiML (invariant d) -------------------------------------------------------------------

URL_NAMES = ("turn", "no_input", "dial", "recording", "whisper", "wait", "transcription")
_TWIML: dict[tuple[Action, ...], str] = {}
_TWIML_MAX = 50_000


def urls_for(actions: Sequence[Action]) -> dict[str, str]:
    """Placeholder URLs for every event name the actions (and the renderer) use."""
    names = set(URL_NAMES)
    for a in actions:
        name = getattr(a, "action", None)
        if isinstance(name, str):
            names.add(name)
        if isinstance(a, Redirect):
            names.add(a.event)
    return {n: f"https://explore.invalid/{n}" for n in sorted(names)}


def twiml_problem(actions: Sequence[Action]) -> str:
    """What is wrong with the TwiML of ``actions`` ('' when nothing).

    Each distinct document is rendered and parsed once. A Dial's whisper text is not in
    the document (only its URL), so Dials are keyed without it and each distinct whisper
    is checked on its own (it is its own TwiML document, read to the person).
    """
    shown = tuple(replace(a, whisper="-") if isinstance(a, Dial) and a.whisper else a
                  for a in actions if not isinstance(a, Job))
    try:
        hit = _TWIML.get(shown)
    except TypeError:  # an action that cannot be a key: check it directly
        hit = _check_twiml(shown)
    else:
        if hit is None:
            hit = _check_twiml(shown)
            if len(_TWIML) >= _TWIML_MAX:
                _TWIML.clear()
            _TWIML[shown] = hit
    if hit:
        return hit
    return next((p for a in actions if isinstance(a, Dial) and a.whisper
                 for p in [_whisper_problem(a.whisper)] if p), "")


@functools.lru_cache(maxsize=8192)
def _whisper_problem(text: str) -> str:
    try:
        ET.fromstring(twiml.whisper(text))
    except ET.ParseError as exc:
        return f"has a whisper for the person that is not well-formed XML ({exc})"
    return ""


def _check_twiml(actions: tuple[Action, ...]) -> str:
    urls = urls_for(actions)
    try:
        doc = twiml.render(actions, urls)
        root = ET.fromstring(doc)
    except ET.ParseError as exc:
        return f"is not well-formed XML ({exc})"
    except Exception as exc:  # noqa: BLE001 - the renderer failing is the finding
        return f"cannot be rendered ({type(exc).__name__}: {exc})"
    if root.tag != "Response":
        return f"has root <{root.tag}>, not <Response>"
    children = list(root)
    for i, el in enumerate(children):
        if el.tag != "Gather":
            continue
        nxt = children[i + 1] if i + 1 < len(children) else None
        if "actionOnEmptyResult" not in el.attrib:  # falls through: prompts, then Record
            nxt = next((x for x in children[i + 1:] if x.tag not in PROMPTS), None)
        if "actionOnEmptyResult" in el.attrib:
            if nxt is None or nxt.tag != "Redirect" or (nxt.text or "") != urls["no_input"]:
                return ("has a Gather not followed by its no-input Redirect (silence would "
                        "end the call)")
        elif nxt is None or nxt.tag != "Record":
            return "has a fall-through Gather that is not followed by a Record"
    return ""


WAIT_VERBS = frozenset({"Say", "Play", "Pause", "Gather", "Redirect", "Leave", "Hangup"})
"""The verbs Twilio runs in a queue's waitUrl document."""


def wait_document_problem(actions: Sequence[Action]) -> str:
    """What a waitUrl document (the caller is in a queue) may not do ('' when fine)."""
    bad = sorted({type(a).__name__ for a in actions if not isinstance(a, Job)} - WAIT_VERBS)
    if bad:
        return (f"answers a caller waiting in a queue with <{'>, <'.join(bad)}> (a waitUrl "
                f"document may only use {', '.join(sorted(WAIT_VERBS))})")
    return ""


def main_verb(actions: Sequence[Action]) -> str:
    """The verb a transcript ``expect: {action: ...}`` names for these actions."""
    names = {type(a).__name__.lower() for a in actions}
    for verb in VERBS:
        if verb in names:
            return verb
    return "say" if any(isinstance(a, Say | Gather) for a in actions) else ""


def record_in(actions: Sequence[Action]) -> bool:
    return any(isinstance(a, Record) for a in actions)
