"""The no-I/O core: ``step(compiled, call, event) -> (call, actions)``.

The Flask webhooks, ``ivr simulate``, ``ivr replay``, ``ivr validate --explore`` and the
console's simulator all drive this one function. It imports no Flask, Redis, RQ or twilio:
everything it knows arrives as arguments, and everything it wants done leaves as data
(:mod:`ivr.runtime.actions`: TwiML verbs and jobs).

Every state a call can be in belongs to this machine: the flow's states (menus,
announcements, collects, captures, voicemail, goodbyes) and the engine's own
(:data:`ivr.flowlang.machine.BUILT_IN`: the person, the callback offer, voicemail, the
queue and its callback choice). Each state's handler answers the event and names the
trigger to fire; :func:`_run` moves the call through the compiled machine until the
caller must act again. The human escape hatch is checked first in every flow state;
silence and confusion escalate to a person; a person who does not answer leads to the
callback offer and voicemail, never to silence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ivr.flowlang.hours import is_open
from ivr.flowlang.machine import (
    CALLBACK_CONFIRM,
    CALLBACK_NUMBER,
    END,
    OFFER,
    VOICEMAIL,
    WAIT,
    Compiled,
)
from ivr.flowlang.model import HUMAN, OTHER, Kind, State
from ivr.runtime import language, person, prompts, waiting
from ivr.runtime.actions import Action, Gather, Hangup, Record, Say
from ivr.runtime.events import CallState, Event, EventKind
from ivr.runtime.matcher import match
from ivr.runtime.meaning import second_opinion
from ivr.runtime.redact import redact_digits, redact_text, words_to_digits
from ivr.runtime.work import DEFAULTS, PATH_KEEP, Options, Work, intent_named

MAX_HOPS = 64
Handler = Callable[[Work], "str | None"]


def step(c: Compiled, call: CallState, event: Event,
         options: Options = DEFAULTS) -> tuple[CallState, list[Action]]:
    """Apply ``event`` to ``call`` under flow ``c``; return the new state and the actions.

    ``options`` are the deployment's (hold music, callback offers while queued).
    """
    t = Work(c, replace(call, slots=dict(call.slots), path=list(call.path),
                        edges=list(call.edges), hops=[]), event, options)
    t.call.turn += 1
    if event.kind is EventKind.LEG:  # the person's phone: nothing for the caller to hear
        person.on_leg(t)
        return t.call, t.out
    if t.call.ended:
        person.late_message(t)  # a message whose recording arrived after the hang-up
        return t.call, [Hangup(), *t.out]
    if event.kind is EventKind.HANGUP:
        person.finish(t, t.call.outcome or "hangup")
    elif event.kind is EventKind.START or not t.call.state:
        t.call.started = t.call.started or event.now.isoformat()
        if t.call.callback and person.machine_answered(t):
            pass  # a message for the machine, and another try later (person.machine_answered)
        elif t.call.callback:  # we are returning a call the caller asked for: to a person
            t.say(prompts.CALLBACK_HELLO)
            _run(t, "callback", HUMAN)
        else:
            _run(t, "start", c.flow.start)
    else:
        trigger = _handler(t)(t)
        if trigger:
            _run(t, trigger)
    t.call.path = t.call.path[-PATH_KEEP:]
    t.call.edges = t.call.edges[-PATH_KEEP:]
    return t.call, t.out


_BUILT_IN: dict[str, Handler] = {
    HUMAN: person.on_human, OFFER: person.on_offer,
    VOICEMAIL: lambda t: person.on_voicemail(t, None), WAIT: waiting.on_wait,
    CALLBACK_CONFIRM: waiting.on_confirm, CALLBACK_NUMBER: waiting.on_number,
}


def _handler(t: Work) -> Handler:
    """Who answers an event in the call's state (the human check first in flow states)."""
    name = t.call.state
    if name in _BUILT_IN:
        return _BUILT_IN[name]
    s = _state(t, name)
    if s.kind is Kind.VOICEMAIL:
        return lambda t: person.on_voicemail(t, s)
    if t.event.kind in person.STALE:  # late or forged: the caller hears the state again
        return lambda t: _arrive(t)
    if t.wants_human():
        return lambda t: "human"
    on = {Kind.MENU: _on_menu, Kind.COLLECT: _on_collect, Kind.CAPTURE: _on_capture}
    handler = on.get(s.kind, _on_unexpected)
    return lambda t: handler(t, s)


def _state(t: Work, name: str) -> State:
    s = t.flow.states.get(name)
    if s is None:
        raise KeyError(f"call is in unknown state {name!r}")
    return s


# --- moving through the graph -------------------------------------------------------------

def _run(t: Work, trigger: str, dest: str = "") -> None:
    """Fire ``trigger`` (or go to ``dest``) and keep going until the caller must act."""
    for _ in range(MAX_HOPS):
        t.enter(trigger, dest or t.c.fire(t.call.state, trigger))
        dest = ""
        next_trigger = _arrive(t)
        if next_trigger is None:
            return
        trigger = next_trigger
    raise RuntimeError(f"flow {t.flow.id} loops without waiting for the caller")


def _arrive(t: Work) -> str | None:
    """Render the state just entered; a trigger when the call moves on at once."""
    name = t.call.state
    if name == HUMAN:
        return person.arrive_human(t)
    if name == OFFER:
        return person.arrive_offer(t)
    if name == VOICEMAIL:
        return person.arrive_voicemail(t, None)
    if name == WAIT:
        return waiting.arrive_wait(t)
    if name == CALLBACK_CONFIRM:
        return waiting.arrive_confirm(t)
    if name == CALLBACK_NUMBER:
        return waiting.arrive_number(t)
    if name == END:
        return person.finish(t, t.call.outcome or "completed", hang_up=True)
    s = _state(t, name)
    if s.kind is Kind.SAY:
        t.say(t.text(s))
        return "next"
    if s.kind is Kind.HOURS:
        return "open" if is_open(t.flow.hours, t.event.now) else "closed"
    if s.kind is Kind.GOODBYE:
        t.say(t.text(s))
        return person.finish(t, t.call.outcome or "completed", hang_up=True)
    if s.kind is Kind.VOICEMAIL:
        return person.arrive_voicemail(t, s)
    return _wait(t, s)


def _wait(t: Work, s: State, retry: str = "") -> str | None:
    """Ask (a menu, a collect or a capture) and wait for the caller."""
    if s.kind is Kind.CAPTURE and s.record:  # the caller's own words, as audio + transcript
        t.say(t.text(s))
        t.speak()
        t.out.append(Record(max_length=45, finish_on_key="#", play_beep=True, timeout=4,
                            transcribe=True))
        return None
    if retry:
        t.say(retry)
    prompt = t.text(s, "reprompt") if retry and s.reprompt else t.text(s)
    if t.call.pending:
        intent = intent_named(s, t.call.pending, t.lang)
        prompt = prompts.confirm(intent.confirm or prompts.guess(intent.name, intent.phrases),
                                 t.lang)
    t.say(prompt)
    if t.event.kind is EventKind.START and s.kind is Kind.MENU and not t.lang:
        # GetHuman R9: offer the other languages at the first prompt, each in its own voice
        t.said.extend(Say(lang.offer, lang.voice, lang.code) for lang in t.flow.languages)
    t.out.append(_gather(t, s))
    return None


def _gather(t: Work, s: State) -> Gather:
    human = language.human_phrases(t.flow, t.lang)
    code = t.code()
    if s.kind is Kind.COLLECT and s.collect:
        g = Gather(tuple(t.said), "dtmf speech", s.collect.max_digits, "#", 7, "auto",
                   human, code)
    elif s.kind is Kind.CAPTURE:
        g = Gather(tuple(t.said), "speech dtmf", 1, "", 6, "auto", human, code)
    else:
        hints = [*human, *(p for i in language.intents(s, t.lang) for p in i.phrases)]
        width = max((len(k) for i in s.intents for k in i.keys), default=1)
        g = Gather(tuple(t.said), "dtmf speech", width, "", 6, "auto", tuple(hints), code)
    return t.listening(g, s)


# --- per kind ----------------------------------------------------------------------------

def _on_menu(t: Work, s: State) -> str | None:
    e = t.event
    if t.call.pending:
        return _on_confirm(t, s)
    if e.kind is EventKind.DIGITS and (lang := language.by_key(t.flow, e.digits)):
        t.call.language = lang.code  # the caller's language from now on: same menu again
        return _wait(t, s)
    if e.kind is EventKind.DIGITS:
        chosen = next((i.name for i in s.intents if e.digits in i.keys), "")
        t.call.heard = redact_digits(e.digits)
        return f"intent_{chosen}" if chosen else _retry(t, s, "no_match")
    if e.kind is EventKind.SPEECH:
        return _on_menu_speech(t, s)
    return _retry(t, s, "no_input")


def _on_menu_speech(t: Work, s: State) -> str | None:
    e = t.event
    t.call.heard = redact_text(e.text)
    intents = language.intents(s, t.lang)
    m = match(e.text, intents, language.human_phrases(t.flow, t.lang), t.flow.matching,
              e.confidence, t.flow.human.keys)
    m = second_opinion(t.options.meaning, e.text, intents, m, t.flow.matching,
                       t.lang or t.flow.language)
    if m.kind == "none":
        return _retry(t, s, "no_match")
    names = {i.name for i in s.intents}
    if m.kind == OTHER and OTHER in names:
        t.call.reason = t.call.fell_through = t.call.heard
        return f"intent_{OTHER}"
    if m.kind == "confirm" and m.intent in names:
        t.call.pending = m.intent
        return _wait(t, s)
    if m.intent in names:
        return f"intent_{m.intent}"
    return _retry(t, s, "no_match")


def _on_confirm(t: Work, s: State) -> str | None:
    e = t.event
    answer = prompts.yes_no(e.digits if e.kind is EventKind.DIGITS else e.text, t.lang)
    pending = t.call.pending
    if answer is True:
        return f"intent_{pending}"
    t.call.pending = ""
    if answer is False:
        return _wait(t, s, prompts.SORRY_CONFIRM)
    t.call.pending = pending
    return _retry(t, s, "no_input" if e.kind is EventKind.NO_INPUT else "no_match")


def _on_collect(t: Work, s: State) -> str | None:
    """Digits into a slot. A human key alone (the whole entry: ``0``, ``0#``) was already
    taken as a request for a person; a 0 inside a longer entry is a digit."""
    e, col = t.event, s.collect
    assert col is not None
    if e.kind is EventKind.NO_INPUT:
        return _retry(t, s, "no_input")
    digits = e.digits if e.kind is EventKind.DIGITS else words_to_digits(e.text)
    t.call.heard = redact_digits(digits, col.sensitive)
    if digits.isascii() and digits.isdigit() and col.min_digits <= len(digits) <= \
            col.max_digits:
        t.call.slots[col.slot] = redact_digits(digits, col.sensitive)
        return "next"
    return _retry(t, s, "no_match")


def _on_capture(t: Work, s: State) -> str | None:
    e = t.event
    words = redact_text(e.text) if e.kind is EventKind.SPEECH else ""
    recorded = e.kind is EventKind.RECORDING and bool(e.url)
    earlier = t.call.reason if t.call.reason and t.call.reason != words else ""
    t.call.reason = "; ".join(x for x in (earlier, words) if x) or (
        "(left a recorded message)" if recorded else "(the caller did not say)")
    t.call.heard = words
    t.call.outcome = "other"
    t.job("inbox", version=t.call.version, state=s.name, path=t.call.path[-6:], said=words,
          recording=e.url if recorded else "", caller=t.masked_caller(), turn=t.call.turn,
          menu_said=t.call.fell_through)
    return "next"


def _on_unexpected(t: Work, s: State) -> str | None:
    """A webhook for a state that does not wait (stale/duplicate): carry on from it."""
    return _arrive(t)


def _retry(t: Work, s: State, why: str) -> str | None:
    count = t.call.no_input + 1 if why == "no_input" else t.call.no_match + 1
    limit = s.retries.no_input if why == "no_input" else s.retries.no_match
    if count > limit:
        t.say(prompts.GIVE_UP)
        return "give_up"
    if why == "no_input":
        t.call.no_input = count
    else:
        t.call.no_match = count
    return _wait(t, s, prompts.retry(why, count, t.flow.human.keys, t.lang))
