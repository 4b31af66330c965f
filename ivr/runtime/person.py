"""Reaching a person: the dial, the callback offer, voicemail and the end of the call (pure).

Each ``arrive_*`` function renders what the caller hears on entering that state and
returns a trigger when the call moves on at once; each ``on_*`` function takes the event
that arrived in that state and returns the trigger to fire (or None: the call stays and
has been answered). Only :mod:`ivr.runtime.engine` moves the call.

The promise, here: a person who does not answer leads to the callback offer (when the
caller's number is known) and to voicemail, never to silence; the human keys and phrases
try the person again from the offer and from the voicemail prompt; "your message is
saved" is said only after a recording with a duration above zero arrived.
"""

from __future__ import annotations

from ivr.flowlang.hours import is_open
from ivr.flowlang.machine import END, VOICEMAIL
from ivr.flowlang.model import HUMAN, Kind, State
from ivr.flowlang.phone import valid_number
from ivr.runtime import callback_policy, language, prompts
from ivr.runtime.actions import Dial, Enqueue, Gather, Hangup, Record, Redirect
from ivr.runtime.events import LEG_PROGRESS, CallState, EventKind
from ivr.runtime.work import Work

ANSWERED = frozenset({"completed", "answered", "bridged", "bridging-in-process"})
"""Dial/queue results that mean a person took the call."""
STALE = frozenset({EventKind.DIAL_RESULT, EventKind.QUEUE_TICK})
"""Events that can only be late (or forged) outside the person's and the queue's states."""
VOICEMAIL_TRIES = 2
"""Voicemail prompts before the call ends without a message (a callback when possible)."""


def arrive_human(t: Work) -> str | None:
    """Connect to the person (Dial) or put the caller in the queue (Enqueue)."""
    if not is_open(t.flow.hours, t.event.now):
        t.say(prompts.CLOSED)
        return "closed"
    h = t.flow.human
    t.call.outcome = t.call.outcome or "human"
    t.call.whisper = prompts.whisper(t.call, t.flow)
    t.call.leg = t.call.turn
    t.call.ticks = 0
    t.say(prompts.CONNECTING)
    t.speak()
    t.out.append(Enqueue(h.enqueue) if h.enqueue else Dial(h.dial, t.call.whisper, h.timeout))
    return None


def dial_result(t: Work) -> str | None:
    """The Dial or Enqueue ended: a person took it, the caller left or hung up, or nobody
    could take it (then the callback offer, or voicemail when the number is unknown)."""
    status = t.event.status
    if status in ANSWERED:
        return finish(t, t.call.outcome or "human", hang_up=True)
    if status == "leave":  # the caller left the queue for a callback
        t.say(prompts.CALLBACK_GOODBYE)
        return finish(t, "callback", hang_up=True)
    if status == "hangup":  # hung up while queued: nobody left to talk to
        return finish(t, "hangup")
    t.say(prompts.UNAVAILABLE)  # no offer of what we may not do (callback_policy)
    return "offer" if callback_policy.own_number(t) else "unavailable"


def on_human(t: Work) -> str | None:
    """An event while the person is rung (or the queue not yet announced)."""
    e = t.event
    if e.kind is EventKind.DIAL_RESULT:
        return dial_result(t)
    if e.kind is EventKind.QUEUE_TICK and t.flow.human.enqueue:
        return "wait"
    return "human"  # input for an earlier prompt: connect again


def leg_news(call: CallState, status: str) -> bool:
    """True when a Dial leg's progress ``status`` is news: the call is with the person being
    rung and that leg has not reported this far yet (Twilio may repeat or reorder them)."""
    if call.ended or call.state != HUMAN or status not in LEG_PROGRESS:
        return False
    leg, _, seen = call.progress.partition(":")
    was = LEG_PROGRESS.index(seen) if leg == str(call.leg) and seen in LEG_PROGRESS else -1
    return LEG_PROGRESS.index(status) > was


def on_leg(t: Work) -> None:
    """The person's phone rang, answered or hung up: noted (the transcript keeps the line,
    ``picked_up`` the time a person answered); the caller hears nothing new."""
    status = t.event.status
    if not leg_news(t.call, status):
        return
    t.call.progress = f"{t.call.leg}:{status}"
    if status == "answered":
        t.call.picked_up = t.call.picked_up or t.event.now.isoformat()


# --- the callback offer -------------------------------------------------------------------

def arrive_offer(t: Work) -> str | None:
    """Nobody answered: a call back without leaving a message, or stay for voicemail."""
    t.say(prompts.offer_callback(t.lang))
    t.out.append(t.keys_gather(num_digits=1, timeout=5))
    return None


def on_offer(t: Work) -> str | None:
    """1: the call back; a human key or phrase: try the person again; else voicemail."""
    e = t.event
    if e.kind in STALE:  # a late result of the dial that led here: ask again
        return arrive_offer(t)
    if e.kind is EventKind.DIGITS and e.digits == "1" and valid_number(t.call.caller):
        if callback_policy.refuse(t, valid_number(t.call.caller)):
            return "decline"  # over today's limit meanwhile: voicemail instead
        return callback_accepted(t)
    if t.wants_human():
        return "human"
    return "decline"


def callback_accepted(t: Work) -> str | None:
    """The caller pressed 1 for a call back at the number they are calling from."""
    promise = language.callback_promise(t.flow, t.lang)
    t.callback_job(number=valid_number(t.call.caller))
    t.say(prompts.callback_confirmed(promise, t.lang))
    return finish(t, "callback", hang_up=True)


# --- voicemail ------------------------------------------------------------------------------

def arrive_voicemail(t: Work, s: State | None) -> str | None:
    """The voicemail prompt (a key press interrupts it: the human keys still work), then
    the recording, then a redirect in case Twilio posts nothing (no audio)."""
    promise = language.callback_promise(t.flow, t.lang)
    if t.call.no_input:
        t.say(prompts.NO_MESSAGE)
    t.say(t.text(s) if s else prompts.voicemail(promise, t.lang))
    t.out.append(Gather(tuple(t.said), "dtmf", 1, "", 1, language=t.code(), fallthrough=True))
    t.said = []
    _record(t)
    return None


def _record(t: Work) -> None:
    t.out.append(Record())
    t.out.append(Redirect("no_input"))


def on_voicemail(t: Work, s: State | None) -> str | None:
    """A message arrived (saved, callback asked), or none did (ask again, then end), or a
    key was pressed during the prompt (a human key: the person; another: record now)."""
    e = t.event
    if e.kind in STALE:  # a late dial result or queue tick: the prompt again
        return arrive_voicemail(t, s)
    if e.recording:
        return _saved(t, s)
    if e.kind is EventKind.DIGITS and t.wants_human():
        return "human"
    if e.kind is EventKind.DIGITS and e.digits:
        t.say(prompts.RECORD_NOW)
        t.speak()
        _record(t)
        return None
    return _nothing_recorded(t, s)


def _saved(t: Work, s: State | None) -> str | None:
    e = t.event
    t.call.outcome = "voicemail"
    t.callback_job(recording=e.url, duration=e.duration)
    if s is None or s.kind is not Kind.VOICEMAIL:
        t.say(prompts.voicemail_saved(language.callback_promise(t.flow, t.lang), t.lang))
    return "next"


def _nothing_recorded(t: Work, s: State | None) -> str | None:
    t.call.no_input += 1
    if t.call.no_input < VOICEMAIL_TRIES:
        arrive_voicemail(t, s)
        return None
    if callback_policy.own_number(t):  # no message, but we may call back: call back
        return callback_accepted(t)
    t.say(prompts.NO_MESSAGE_GOODBYE)
    return finish(t, "no-message", hang_up=True)


def late_message(t: Work) -> None:
    """The caller hung up while recording a message, and the recording arrived after the
    hang-up ended the call: the message still becomes a call back (and the call's outcome
    ``voicemail``). Anything else for an ended call is stale."""
    e, last = t.event, (t.call.edges[-1] if t.call.edges else "")
    source = last.split(">", 1)[0]
    at_voicemail = source == VOICEMAIL or (
        source in t.flow.states and t.flow.states[source].kind is Kind.VOICEMAIL)
    if not (e.recording and last.endswith(f">end>{END}") and at_voicemail
            and t.call.outcome != "voicemail"):
        return
    t.call.outcome = "voicemail"
    t.callback_job(recording=e.url, duration=e.duration)
    t.job("call_end", version=t.call.version, outcome="voicemail")


# --- the end --------------------------------------------------------------------------------

MACHINE = frozenset({"machine_start", "machine_end_beep", "machine_end_silence",
                     "machine_end_other"})
"""Twilio's AnsweredBy values for an answering machine or voicemail greeting."""


def machine_answered(t: Work) -> bool:
    """A callback we placed reached a machine or a fax, not the caller (Twilio's
    answering-machine detection, in the start event): leave a short message on a machine,
    end the call, and ask for another try (``callback_retry``: the jobs decide when and
    whether, by ``callback_tries`` and business hours). False for a person (or unknown)."""
    answered = t.event.status
    if answered not in MACHINE and answered != "fax":
        return False
    if answered in MACHINE:  # DetectMessageEnd: the greeting is over, the beep has gone
        t.say(prompts.CALLBACK_MACHINE)
    t.job("callback_retry", flow=t.call.flow, number=t.call.caller, callback=t.call.callback,
          attempt=t.call.attempt or 1, why="fax" if answered == "fax" else "machine")
    finish(t, "callback-fax" if answered == "fax" else "callback-machine", hang_up=True)
    return True


def finish(t: Work, outcome: str, hang_up: bool = False) -> str | None:
    """End the call with ``outcome``: it rests in the end state from now on."""
    t.call.outcome = outcome
    t.call.ended = True
    if t.call.state != END:
        t.enter("end", END)
    t.speak()
    if hang_up:
        t.out.append(Hangup())
    t.job("call_end", version=t.call.version, outcome=outcome)
    return None

