"""Honest waiting in a Twilio queue, as engine states: announcements, hold audio, the
periodic callback offer and the callback-number choice (pure).

A flow whose human is ``enqueue: <queue>`` puts the caller in a Twilio queue. Twilio then
asks the wait URL for a document, again and again: each request is a ``queue_tick``
event (Twilio's ``QueuePosition``, ``QueueTime``, ``AvgQueueTime``, ``CurrentQueueSize``;
anything missing or garbage counts as unknown) applied to the call like any other event,
committed by the same compare-and-set and written to the transcript. States:

- ``__wait__``: "You are number 5 in line. The expected wait is about 10 minutes.", then
  hold audio (``hold_music_url``, else a pause) and a redirect back to the wait URL, or,
  when the wait is long (``wait_offer_threshold``) or every ``wait_offer_every`` minutes,
  "press 1 to keep your place in line and we'll call you back".
- ``__callback_confirm__``: "We'll call you back at 2 1 2, 5 5 5, ... 1 to confirm, 2 for a
  different number" (only when the caller's own number is a valid one).
- ``__callback_number__``: the digits of another number (asked twice at most).

A number the callback policy refuses (:mod:`ivr.runtime.callback_policy`: country, line
type, today's limit) is never accepted: the caller hears why and keeps their place.

Anything unclear, silence or a human key keeps the caller's place in line ("You are in
line for the next available person" is the answer to 0 here: they are already waiting for
one). A confirmed number becomes a callback job and the caller leaves the queue (``Leave``);
Twilio then reports ``leave`` to the Enqueue's action URL and the call ends. Documents in
these states hold only verbs a waitUrl allows (Say, Play, Pause, Gather, Redirect, Leave).

The estimate is *position x seconds per caller*, where seconds per caller is Twilio's
average when it is known and :data:`~ivr.runtime.events.PER_CALLER` (2 minutes) when it
is 0 or missing, spoken in friendly words ("less than a minute", "about 10 minutes").
"""

from __future__ import annotations

from datetime import timedelta

from ivr.flowlang.phone import spoken as spoken_number
from ivr.flowlang.phone import valid_number
from ivr.runtime import callback_policy, person, prompts
from ivr.runtime.actions import Action, Leave, Pause, Play, Redirect, Say
from ivr.runtime.events import MAX_SECONDS, EventKind, QueueStatus
from ivr.runtime.work import Options, Work

HOLD_SECONDS = 30         # silence between updates when there is no hold music
MIN_CALLBACK = 5 * 60     # a callback is never promised sooner than this


def in_words(seconds: int) -> str:
    """Friendly, rounded wording of a wait: "less than a minute", "about 15 minutes"."""
    minutes = seconds / 60
    if minutes < 1:
        return "less than a minute"
    if minutes < 1.5:
        return "about a minute"
    if minutes <= 10:
        return f"about {round(minutes)} minutes"
    if minutes <= 30:
        return f"about {5 * round(minutes / 5)} minutes"
    return "more than 30 minutes"


def promise_words(seconds: int) -> str:
    """When the callback will come, as promised to the caller ("in about 10 minutes")."""
    seconds = max(seconds, MIN_CALLBACK)
    if seconds <= 30 * 60:
        return "in " + in_words(seconds)
    hours = -(-seconds // 3600)
    return "within the hour" if hours <= 1 else f"within about {min(hours, 24)} hours"


def announcement(status: QueueStatus) -> str:
    """Position and expected wait, e.g. "You are number 5 in line. ... about 10 minutes."."""
    if status.position == 1:
        where = "You are next in line."
    elif status.position > 1:
        where = f"You are number {status.position} in line."
    else:
        where = "You are in line for the next available person."
    return f"{where} The expected wait is {in_words(status.expected)}. Thank you for waiting."


def should_offer(status: QueueStatus, last: int | None, options: Options) -> bool:
    """Offer a callback at once when the wait is long, then every ``offer_every`` minutes.

    ``last`` is the QueueTime of the previous wait document (None on the first one).
    """
    every = options.offer_every * 60
    if last is None:
        return 0 < options.offer_threshold * 60 < status.expected
    return every > 0 and status.waited // every > last // every


def callback_at(expected: int) -> int:
    """Seconds from now when the callback is placed (never sooner than MIN_CALLBACK)."""
    return min(max(expected, MIN_CALLBACK), MAX_SECONDS)


def hold_fallback() -> list[Action]:
    """When anything fails while waiting: keep the caller in line (Twilio asks again)."""
    return [Say("Thank you for waiting. Please stay on the line."), Pause(HOLD_SECONDS)]


# --- the states ----------------------------------------------------------------------------

def arrive_wait(t: Work) -> str | None:
    """The wait document: where you are, then hold audio or the callback offer.

    Back from the callback choice (``keep``) it only says the caller keeps their place;
    without Twilio's queue numbers (silence after a prompt) it thanks them for waiting.
    """
    status = t.event.queue
    if t.trigger == "keep" or status is None or not (status.position or status.waited):
        if t.trigger == "keep" and not t.said:
            human = t.event.kind is EventKind.DIGITS and t.wants_human()
            t.say(prompts.IN_LINE if human else prompts.KEEP_PLACE)
        elif t.trigger != "keep":
            t.say(prompts.STILL_WAITING)
        return _hold(t)
    first = t.call.ticks == 0
    offer = should_offer(status, None if first else t.call.waited, t.options)
    t.call.ticks += 1
    t.call.waited, t.call.expected = status.waited, status.expected
    t.say(announcement(status))
    if offer:
        t.say(prompts.QUEUE_OFFER)
        t.out.append(t.keys_gather(num_digits=1, timeout=6, action="turn"))
        return None
    return _hold(t)


def _hold(t: Work) -> str | None:
    t.speak()
    t.out.append(Play(t.options.hold_music_url) if t.options.hold_music_url
                 else Pause(HOLD_SECONDS))
    t.out.append(Redirect("wait"))
    return None


def on_wait(t: Work) -> str | None:
    """A tick, the answer to the offer (1: the callback choice), or the queue's result."""
    e = t.event
    if e.kind is EventKind.DIAL_RESULT:
        return person.dial_result(t)
    if e.kind is EventKind.DIGITS and e.digits == "1":
        return "choose" if callback_policy.own_number(t) else "number"
    if e.kind in (EventKind.QUEUE_TICK, EventKind.NO_INPUT):
        return "tick"
    return "keep"


def arrive_confirm(t: Work) -> str | None:
    own = valid_number(t.call.caller)
    t.say(prompts.confirm_number(spoken_number(own)))
    t.out.append(t.keys_gather(num_digits=1, timeout=6, action="turn", speech=False))
    return None


def on_confirm(t: Work) -> str | None:
    """1: call back the number calling; 2: type another; anything else: keep the place."""
    e = t.event
    if e.kind is EventKind.DIAL_RESULT:
        return person.dial_result(t)
    own = callback_policy.own_number(t)
    if e.kind is EventKind.DIGITS and e.digits == "1" and own:
        return accepted(t, own)
    if e.kind is EventKind.DIGITS and e.digits == "2":
        return "number"
    return "tick" if e.kind in (EventKind.QUEUE_TICK, EventKind.NO_INPUT) else "keep"


def arrive_number(t: Work) -> str | None:
    if t.trigger == "retry":
        t.say(prompts.NOT_A_NUMBER)
    t.say(prompts.ASK_NUMBER)
    t.out.append(t.keys_gather(num_digits=0, timeout=10, action="turn", finish="#",
                               speech=False))
    return None


def on_number(t: Work) -> str | None:
    """The digits of the number to call back (read in the caller's own region)."""
    e = t.event
    if e.kind is EventKind.DIAL_RESULT:
        return person.dial_result(t)
    if e.kind is not EventKind.DIGITS or not e.digits or t.wants_human():
        return "tick" if e.kind in (EventKind.QUEUE_TICK, EventKind.NO_INPUT) else "keep"
    entered = valid_number(e.digits.rstrip("#"), t.call.caller)
    if entered and callback_policy.refuse(t, entered):
        t.say(prompts.IN_PLACE)  # never a dead end: they are still in line
        return "keep"
    if entered:
        return accepted(t, entered)
    if not (t.call.edges and ">retry>" in t.call.edges[-1]):  # asked once: ask again
        return "retry"
    t.say(prompts.NUMBER_FAILED)
    return "keep"


def accepted(t: Work, number: str) -> str | None:
    """A confirmed number: the callback job, the promise, and the caller leaves the queue."""
    seconds = callback_at(t.call.expected)
    promise = t.event.now + timedelta(seconds=seconds)
    t.call.outcome = "callback"
    t.callback_job(number=number, promise=promise.isoformat())
    t.say(prompts.callback_promised(spoken_number(number), promise_words(seconds)))
    t.speak()
    t.out.append(Leave())
    return None
