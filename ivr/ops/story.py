"""A caller's story as the agent pages show it: facts from the call state, its transcript
and the archive, in plain words and redacted (nothing here renders HTML).

The same facts as the whisper (:func:`ivr.runtime.prompts.whisper`), never more than the
redaction allows: the caller's number masked; key presses and words of a sensitive
``collect`` masked (the transcript line masks them already; :func:`mask_step` masks them
again, so a line written by an older version cannot leak them); slots of a sensitive
collect shown as ``*`` only; card numbers masked in every text (:func:`redact_text`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from ivr.flowlang.machine import (
    CALLBACK_CONFIRM,
    CALLBACK_NUMBER,
    END,
    OFFER,
    QUEUE_STATES,
    VOICEMAIL,
    WAIT,
)
from ivr.flowlang.model import HUMAN, Flow
from ivr.ops.times import hms
from ivr.runtime.callcode import short_code
from ivr.runtime.events import CallState
from ivr.runtime.redact import mask_number, redact_text

PERSON_STATES = QUEUE_STATES | {HUMAN}
"""Engine states in which the call is with a person: rung (Dial) or in the queue."""
BUILT_IN_WORDS = {
    HUMAN: "Connecting to a person", WAIT: "Waiting in line for a person",
    CALLBACK_CONFIRM: "Confirming the number to call back",
    CALLBACK_NUMBER: "Typing a number to call back", OFFER: "Offered a call back",
    VOICEMAIL: "Leaving a voicemail", END: "Call ended", "": "Call started"}
PROMPT_CHARS = 140


def title(name: str) -> str:
    """A state's name in plain words: ``main_menu`` → "Main menu"."""
    if name in BUILT_IN_WORDS:
        return BUILT_IN_WORDS[name]
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def prompt_of(flow: Flow | None, name: str) -> str:
    """The flow's text of state ``name`` (what the caller heard there), shortened."""
    state = flow.states.get(name) if flow else None
    text = " ".join((state.prompt if state else "").split())
    return text if len(text) <= PROMPT_CHARS else text[:PROMPT_CHARS - 1].rstrip() + "…"


def sensitive_states(flow: Flow | None) -> frozenset[str]:
    """States whose key presses and words are secret (a ``sensitive`` collect)."""
    if flow is None:
        return frozenset()
    return frozenset(n for n, s in flow.states.items() if s.collect and s.collect.sensitive)


def sensitive_slots(flow: Flow | None) -> frozenset[str]:
    if flow is None:
        return frozenset()
    return frozenset(s.collect.slot for s in flow.states.values()
                     if s.collect and s.collect.sensitive)


def slots(flow: Flow | None, values: Mapping[str, str]) -> list[dict[str, str]]:
    """Slots as ``{"name", "value"}``: a sensitive one (or one already masked) is only its
    length in ``*``; every other value has card numbers masked."""
    secret = sensitive_slots(flow)
    out = []
    for name, value in values.items():
        hidden = name in secret or "*" in value or flow is None and value.isdigit()
        out.append({"name": title(name), "value": "*" * len(value) if hidden
                    else redact_text(value)})
    return out


def when(iso: str, tz: tzinfo, with_date: bool = False) -> str:
    """An ISO time in ``tz``, labelled with the zone: "14:05:03 EST" or with the date."""
    if not iso:
        return ""
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(tz)
    return at.strftime("%a %d %b %Y %H:%M %Z" if with_date else "%H:%M:%S %Z")


def mask_step(heard: Mapping[str, Any], secret: bool) -> tuple[str, str]:
    """(pressed, said) of a transcript line's ``heard``, masked once more when secret."""
    digits, text = str(heard.get("digits") or ""), str(heard.get("text") or "")
    if secret:
        return "*" * len(digits), "*" * len(text) if text else ""
    return redact_text(digits), redact_text(text)


def steps(flow: Flow | None, records: Iterable[Mapping[str, Any]],
          tz: tzinfo) -> list[dict[str, Any]]:
    """Each turn in order: where the caller was (in words), what they pressed or said
    there and where it took them. Queue ticks and no-input in the queue are folded away
    (the wait is shown as a time)."""
    secret = sensitive_states(flow)
    out: list[dict[str, Any]] = []
    for r in records:
        heard = r.get("heard") or {}
        kind, src, dest = str(heard.get("kind", "")), str(r.get("from", "")), str(r.get("to", ""))
        if kind == "queue_tick" or (src in QUEUE_STATES and src == dest and kind != "digits"):
            continue
        pressed, said = mask_step(heard, src in secret)
        out.append({"turn": r.get("turn"), "time": when(str(r.get("at", "")), tz),
                    "state": src, "title": title(src), "prompt": prompt_of(flow, src),
                    "event": kind, "pressed": pressed, "said": said,
                    "to": dest, "to_title": title(dest), "to_prompt": prompt_of(flow, dest)})
    return out


def person_since(records: Iterable[Mapping[str, Any]]) -> str:
    """When the call last reached a person's state (ISO time; '' when it never did)."""
    since = ""
    for r in records:
        src, dest = str(r.get("from", "")), str(r.get("to", ""))
        if dest in PERSON_STATES and src not in PERSON_STATES:
            since = str(r.get("at", ""))
    return since


def waited(records: Sequence[Mapping[str, Any]], call: CallState, now: datetime) -> int:
    """Seconds the caller has waited for a person (until the end for an ended call)."""
    since = person_since(records)
    if not since:
        return 0
    until = now
    if call.ended and records:
        until = datetime.fromisoformat(str(records[-1].get("at") or since))
    start = datetime.fromisoformat(since)
    seconds = int((until - start).total_seconds())
    return max(seconds, call.waited, 0)


def status(call: CallState, answered: bool) -> str:
    """``waiting`` (in the queue or being rung), ``connected`` (a person took it: their
    Dial leg reported answering, ``picked_up``, or ``answered``, their leg fetched the
    whisper) or ``ended``."""
    if call.ended:
        return "ended"
    if call.state == HUMAN and (answered or bool(call.picked_up)):
        return "connected"
    return "waiting"


def row(call: CallState, flow: Flow | None, records: Sequence[Mapping[str, Any]],
        answered: bool, now: datetime) -> dict[str, Any]:
    """A call as the agent list shows it (and as the story's header does)."""
    seconds = waited(records, call, now)
    return {"sid": call.sid, "code": short_code(call.sid), "flow": call.flow,
            "caller": mask_number(call.caller), "language": call.language or
            (flow.language if flow else ""),
            "reason": redact_text(call.reason or _topic(call)), "state": call.state,
            "where": "Talking with a person" if status(call, answered) == "connected"
            else title(call.state), "waited": seconds, "waited_text": hms(seconds),
            "status": status(call, answered), "ended": call.ended, "outcome": call.outcome}


def _topic(call: CallState) -> str:
    where = [p for p in call.path if p not in PERSON_STATES and not p.startswith("__")]
    return f"(at {title(where[-1]).lower()})" if where else ""
