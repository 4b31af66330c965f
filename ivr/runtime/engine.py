"""The no-I/O core: ``step(compiled, call, event) -> (call, actions)``.

The Flask webhook, ``ivr simulate`` and ``ivr replay`` all drive this one function. It
imports no Flask, Redis, RQ or twilio: everything it knows arrives as arguments, and
everything it wants done leaves as data (:mod:`ivr.runtime.actions`). The human escape hatch is
checked first in every state; silence and confusion escalate to a person; a person who
does not answer leads to voicemail and a callback, never to silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ivr.flowlang.hours import is_open
from ivr.flowlang.machine import END, VOICEMAIL, Compiled
from ivr.flowlang.model import HUMAN, OTHER, Flow, Intent, Kind, State
from ivr.runtime import language, prompts
from ivr.runtime.actions import (
    Action,
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Job,
    Record,
    Say,
)
from ivr.runtime.events import CallState, Event, EventKind
from ivr.runtime.matcher import match
from ivr.runtime.redact import mask_number, redact_digits, redact_text, words_to_digits

MAX_HOPS = 64
PATH_KEEP = 24
ANSWERED = {"completed", "answered", "bridged"}


@dataclass
class _Turn:
    """Scratch space for one step: the flow, the call being changed and what to say."""

    c: Compiled
    call: CallState
    event: Event
    out: list[Action] = field(default_factory=list)
    said: list[Say] = field(default_factory=list)
    offer_callback: bool = False

    @property
    def flow(self) -> Flow:
        return self.c.flow

    @property
    def lang(self) -> str:
        """The language the caller chose ('' = the flow's default)."""
        return self.call.language

    def say(self, text: str) -> None:
        voice, code = language.voice(self.flow, self.lang)
        self.said.append(Say(prompts.tr(text, self.lang), voice, code))

    def text(self, s: State, key: str = "prompt") -> str:
        return language.text(s, key, self.lang)


def step(c: Compiled, call: CallState, event: Event) -> tuple[CallState, list[Action]]:
    """Apply ``event`` to ``call`` under flow ``c``; return the new state and the actions."""
    t = _Turn(c, replace(call, slots=dict(call.slots), path=list(call.path),
                         edges=list(call.edges)), event)
    t.call.turn += 1
    if t.call.ended:
        return t.call, [Hangup()]
    if event.kind is EventKind.HANGUP:
        _finish(t, t.call.outcome or "hangup")
        return t.call, t.out
    if event.kind is EventKind.START or not t.call.state:
        t.call.started = t.call.started or event.now.isoformat()
        if t.call.callback:  # we are returning a call the caller asked for: straight to a person
            t.say(prompts.CALLBACK_HELLO)
            _run(t, HUMAN, "callback")
        else:
            _run(t, c.flow.start, "start")
    else:
        _dispatch(t)
    return t.call, t.out


def _dispatch(t: _Turn) -> None:
    name = t.call.state
    if name == HUMAN:
        _after_dial(t)
    elif name == VOICEMAIL or _state(t, name).kind is Kind.VOICEMAIL:
        _after_voicemail(t)
    elif _wants_human(t):
        _go(t, "human")
    else:
        s = _state(t, name)
        handler = {Kind.MENU: _on_menu, Kind.COLLECT: _on_collect, Kind.CAPTURE: _on_capture}
        handler.get(s.kind, _on_unexpected)(t, s)


def _state(t: _Turn, name: str) -> State:
    s = t.flow.states.get(name)
    if s is None:
        raise KeyError(f"call is in unknown state {name!r}")
    return s


def _wants_human(t: _Turn) -> bool:
    e, h = t.event, t.flow.human
    if e.kind is EventKind.DIGITS:
        return e.digits in h.keys
    if e.kind is EventKind.SPEECH:
        phrases = language.human_phrases(t.flow, t.lang)
        return match(e.text, (), phrases, t.flow.matching).kind == "human"
    return False


# --- moving through the graph -------------------------------------------------------------

def _go(t: _Turn, trigger: str) -> None:
    _run(t, t.c.fire(t.call.state, trigger), trigger)


def _run(t: _Turn, dest: str, trigger: str) -> None:
    """Enter ``dest`` and keep going through announcements until the caller must act."""
    src = t.call.state
    for _ in range(MAX_HOPS):
        _enter(t, src, trigger, dest)
        s = t.flow.states.get(dest)
        if dest == HUMAN:
            return _human(t)
        if dest in (VOICEMAIL, END) or s is None:
            return _voicemail(t, None) if dest == VOICEMAIL else _hangup(t)
        if s.kind is Kind.SAY:
            t.say(t.text(s))
            trigger = "next"
        elif s.kind is Kind.HOURS:
            trigger = "open" if is_open(t.flow.hours, t.event.now) else "closed"
        else:
            return _wait(t, s)
        src, dest = dest, t.c.fire(dest, trigger)
    raise RuntimeError(f"flow {t.flow.id} loops without waiting for the caller")


def _enter(t: _Turn, src: str, trigger: str, dest: str) -> None:
    t.call.state = dest
    t.call.no_input = t.call.no_match = 0
    t.call.pending = ""
    t.call.path = (t.call.path + [dest])[-PATH_KEEP:]
    t.call.edges = (t.call.edges + [f"{src}>{trigger}>{dest}"])[-PATH_KEEP:]


def _wait(t: _Turn, s: State, retry: str = "") -> None:
    if s.kind is Kind.GOODBYE:
        t.say(t.text(s))
        return _hangup(t)
    if s.kind is Kind.VOICEMAIL:
        return _voicemail(t, s)
    if s.kind is Kind.CAPTURE and s.record:  # the caller's own words, as audio + transcript
        t.say(t.text(s))
        t.out.extend(t.said)
        t.out.append(Record(max_length=45, finish_on_key="#", play_beep=True, timeout=4,
                            transcribe=True))
        return None
    if retry:
        t.say(retry)
    prompt = t.text(s, "reprompt") if retry and s.reprompt else t.text(s)
    if t.call.pending:
        intent = _intent(s, t.call.pending, t.lang)
        prompt = prompts.confirm(intent.confirm or prompts.guess(intent.name, intent.phrases),
                                 t.lang)
    t.say(prompt)
    if t.event.kind is EventKind.START and s.kind is Kind.MENU and not t.lang:
        # GetHuman R9: offer the other languages at the first prompt, each in its own voice
        t.said.extend(Say(lang.offer, lang.voice, lang.code) for lang in t.flow.languages)
    t.out.append(_gather(t, s))


def _gather(t: _Turn, s: State) -> Gather:
    human = language.human_phrases(t.flow, t.lang)
    code = language.voice(t.flow, t.lang)[1]
    if s.kind is Kind.COLLECT and s.collect:
        return Gather(tuple(t.said), "dtmf speech", s.collect.max_digits, "#", 7, "auto",
                      human, code)
    if s.kind is Kind.CAPTURE:
        return Gather(tuple(t.said), "speech dtmf", 1, "", 6, "auto", human, code)
    hints = [*human, *(p for i in language.intents(s, t.lang) for p in i.phrases)]
    width = max((len(k) for i in s.intents for k in i.keys), default=1)
    return Gather(tuple(t.said), "dtmf speech", width, "", 6, "auto", tuple(hints[:100]), code)


def _intent(s: State, name: str, code: str = "") -> Intent:
    return next(i for i in language.intents(s, code) if i.name == name)


# --- per kind ----------------------------------------------------------------------------

def _on_menu(t: _Turn, s: State) -> None:
    e = t.event
    if t.call.pending:
        return _on_confirm(t, s)
    if e.kind is EventKind.DIGITS and (lang := language.by_key(t.flow, e.digits)):
        t.call.language = lang.code  # the caller's language from now on: same menu again
        return _wait(t, s)
    if e.kind is EventKind.DIGITS:
        chosen = next((i.name for i in s.intents if e.digits in i.keys), "")
        t.call.heard = redact_digits(e.digits)
        return _go(t, f"intent_{chosen}") if chosen else _retry(t, s, "no_match")
    if e.kind is EventKind.SPEECH:
        return _on_menu_speech(t, s)
    _retry(t, s, "no_input")


def _on_menu_speech(t: _Turn, s: State) -> None:
    e = t.event
    t.call.heard = redact_text(e.text)
    m = match(e.text, language.intents(s, t.lang), language.human_phrases(t.flow, t.lang),
              t.flow.matching, e.confidence)
    if m.kind == "none":
        return _retry(t, s, "no_match")
    names = {i.name for i in s.intents}
    if m.kind == OTHER and OTHER in names:
        t.call.reason = t.call.heard
        return _go(t, f"intent_{OTHER}")
    if m.kind == "confirm" and m.intent in names:
        t.call.pending = m.intent
        return _wait(t, s)
    if m.intent in names:
        return _go(t, f"intent_{m.intent}")
    _retry(t, s, "no_match")


def _on_confirm(t: _Turn, s: State) -> None:
    e = t.event
    answer = prompts.yes_no(e.digits if e.kind is EventKind.DIGITS else e.text, t.lang)
    pending = t.call.pending
    if answer is True:
        return _go(t, f"intent_{pending}")
    t.call.pending = ""
    if answer is False:
        return _wait(t, s, prompts.SORRY_CONFIRM)
    t.call.pending = pending
    _retry(t, s, "no_input" if e.kind is EventKind.NO_INPUT else "no_match")


def _on_collect(t: _Turn, s: State) -> None:
    e, col = t.event, s.collect
    assert col is not None
    digits = e.digits if e.kind is EventKind.DIGITS else words_to_digits(e.text)
    if e.kind is EventKind.NO_INPUT:
        return _retry(t, s, "no_input")
    t.call.heard = redact_digits(digits, col.sensitive)
    if digits.isdigit() and col.min_digits <= len(digits) <= col.max_digits:
        t.call.slots[col.slot] = redact_digits(digits, col.sensitive)
        return _go(t, "next")
    _retry(t, s, "no_match")


def _on_capture(t: _Turn, s: State) -> None:
    e = t.event
    words = redact_text(e.text) if e.kind is EventKind.SPEECH else ""
    recorded = e.kind is EventKind.RECORDING and bool(e.url)
    earlier = t.call.reason if t.call.reason and t.call.reason != words else ""
    t.call.reason = "; ".join(x for x in (earlier, words) if x) or (
        "(left a recorded message)" if recorded else "(the caller did not say)")
    t.call.heard = words
    t.call.outcome = "other"
    t.out.append(Job("inbox", {"sid": t.call.sid, "flow": t.flow.id, "version": t.call.version,
                               "state": s.name, "path": t.call.path[-6:], "said": words,
                               "recording": e.url if recorded else "",
                               "caller": mask_number(t.call.caller),
                               "at": t.event.now.isoformat()}))
    _go(t, "next")


def _on_unexpected(t: _Turn, s: State) -> None:
    """A webhook for a state that does not wait (stale/duplicate): carry on from it."""
    _run(t, s.name, "resume")


def _retry(t: _Turn, s: State, why: str) -> None:
    count = t.call.no_input + 1 if why == "no_input" else t.call.no_match + 1
    limit = s.retries.no_input if why == "no_input" else s.retries.no_match
    if count > limit:
        t.say(prompts.GIVE_UP)
        return _go(t, "give_up")
    if why == "no_input":
        t.call.no_input = count
    else:
        t.call.no_match = count
    text = prompts.retry(why, count, t.flow.human.keys, t.lang)
    _wait(t, s, text)


# --- the human, voicemail and the end ----------------------------------------------------

def _human(t: _Turn) -> None:
    if not is_open(t.flow.hours, t.event.now):
        t.say(prompts.CLOSED)
        return _go(t, "closed")
    h = t.flow.human
    t.call.outcome = t.call.outcome or "human"
    t.call.whisper = prompts.whisper(t.call, t.flow)
    t.say(prompts.CONNECTING)
    t.out.extend(t.said)
    t.out.append(Enqueue(h.enqueue) if h.enqueue else Dial(h.dial, t.call.whisper, h.timeout))


def _after_dial(t: _Turn) -> None:
    e = t.event
    if e.kind is EventKind.DIAL_RESULT and e.status in ANSWERED:
        return _finish(t, t.call.outcome or "human", hang_up=True)
    if e.kind is EventKind.DIAL_RESULT and e.status == "leave":
        t.say(prompts.CALLBACK_GOODBYE)  # the caller left the queue for a callback
        return _finish(t, "callback", hang_up=True)
    if e.kind is EventKind.DIAL_RESULT and e.status == "hangup":
        return _finish(t, "hangup")  # hung up while queued: nobody left to talk to
    if e.kind is EventKind.DIGITS or e.kind is EventKind.SPEECH:
        return _human(t)
    t.say(prompts.UNAVAILABLE)
    t.offer_callback = bool(t.call.caller)
    _go(t, "unavailable")


def _voicemail(t: _Turn, s: State | None) -> None:
    promise = language.callback_promise(t.flow, t.lang)
    if t.offer_callback:  # GetHuman R4: nobody answered, so offer a call back first
        t.say(prompts.offer_callback(t.lang))
        code = language.voice(t.flow, t.lang)[1]
        t.out.append(Gather(tuple(t.said), "dtmf", 1, "", 4, language=code, fallthrough=True))
        t.said = []
    t.say(t.text(s) if s else prompts.voicemail(promise, t.lang))
    t.out.extend(t.said)
    t.out.append(Record())


def _after_voicemail(t: _Turn) -> None:
    e = t.event
    if e.kind is EventKind.DIGITS and e.digits == "1" and t.call.caller:
        return _callback_accepted(t)
    t.call.outcome = "voicemail"
    t.out.append(Job("callback", {"sid": t.call.sid, "flow": t.flow.id, "caller": t.call.caller,
                                  "recording": e.url, "duration": e.duration,
                                  "reason": t.call.reason, "slots": t.call.slots,
                                  "path": t.call.path[-6:], "at": e.now.isoformat()}))
    if t.call.state == VOICEMAIL:
        t.say(prompts.voicemail_saved(language.callback_promise(t.flow, t.lang), t.lang))
        return _go(t, "next")
    _go(t, "next")


def _callback_accepted(t: _Turn) -> None:
    """The caller pressed 1 for a call back at the number they are calling from."""
    promise = language.callback_promise(t.flow, t.lang)
    t.out.append(Job("callback", {"sid": t.call.sid, "flow": t.flow.id, "caller": t.call.caller,
                                  "number": t.call.caller, "recording": "", "duration": 0,
                                  "reason": t.call.reason, "slots": t.call.slots,
                                  "path": t.call.path[-6:], "at": t.event.now.isoformat()}))
    t.say(prompts.callback_confirmed(promise, t.lang))
    _finish(t, "callback", hang_up=True)


def _hangup(t: _Turn) -> None:
    _finish(t, t.call.outcome or "completed", hang_up=True)


def _finish(t: _Turn, outcome: str, hang_up: bool = False) -> None:
    t.call.outcome = outcome
    t.call.ended = True
    if t.call.state != END:
        _enter(t, t.call.state, "end", END)
    t.out.extend(t.said)
    if hang_up:
        t.out.append(Hangup())
    t.out.append(Job("call_end", {"sid": t.call.sid, "flow": t.flow.id,
                                  "version": t.call.version, "outcome": outcome,
                                  "at": t.event.now.isoformat()}))
