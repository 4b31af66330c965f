"""Honest waiting in a Twilio queue: the wait document and the callback offer, as actions.

Pure (no I/O): the web layer feeds it Twilio's waitUrl parameters and the caller's keys,
renders what it returns with :mod:`ivr.telephony.twiml`, and does the storing. Twilio sends
``QueuePosition``, ``QueueTime`` (seconds this caller has waited), ``AvgQueueTime``
(average seconds of the callers in the queue) and ``CurrentQueueSize`` to the waitUrl as
strings; anything missing, negative, huge or not a number counts as unknown.

The estimate is *position x seconds per caller*, where seconds per caller is Twilio's
average when it is known and :data:`PER_CALLER` (2 minutes) when it is 0 or missing. It is
spoken in friendly words ("less than a minute", "about 10 minutes", "more than 30
minutes"). Event names the actions use (the web layer maps them to URLs): ``wait`` and
``no_input`` (back to the wait document), ``cb_offer``, ``cb_confirm``, ``cb_number`` and
``cb_retry`` (the steps of the callback choice).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.flowlang.phone import spoken as spoken_number
from ivr.flowlang.phone import valid_number
from ivr.runtime.actions import Action, Gather, Leave, Pause, Play, Redirect, Say
from ivr.runtime.events import MAX_SECONDS, QueueStatus

HOLD_SECONDS = 30         # silence between updates when there is no hold music
MIN_CALLBACK = 5 * 60     # a callback is never promised sooner than this
STEPS = ("offer", "confirm", "number", "retry")
OFFER = ("If you'd rather not wait, press 1 to keep your place in line and we'll call you "
         "back. Or stay on the line.")


@dataclass(frozen=True)
class WaitConfig:
    """How the wait document behaves (from settings) and how it speaks (from the flow).

    ``offer_every`` and ``offer_threshold`` are minutes; 0 turns that trigger off.
    """

    hold_music_url: str = ""
    offer_every: int = 5
    offer_threshold: int = 10
    voice: str = ""
    language: str = ""

    def say(self, text: str) -> Say:
        return Say(text, self.voice, self.language)


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


def should_offer(status: QueueStatus, last: int | None, cfg: WaitConfig) -> bool:
    """Offer a callback at once when the wait is long, then every ``offer_every`` minutes.

    ``last`` is the QueueTime of the previous wait document (None on the first one).
    """
    every = cfg.offer_every * 60
    if last is None:
        return 0 < cfg.offer_threshold * 60 < status.expected
    return every > 0 and status.waited // every > last // every


def wait_actions(status: QueueStatus, last: int | None, cfg: WaitConfig) -> list[Action]:
    """The wait document: where you are, then the callback offer or hold audio, then again.

    After the offer, silence goes to ``no_input`` (the wait document again).
    """
    actions: list[Action] = [cfg.say(announcement(status))]
    if should_offer(status, last, cfg):
        actions.append(Gather((cfg.say(OFFER),), "dtmf", 1, "", 6, action="cb_offer"))
        return actions
    actions.append(Play(cfg.hold_music_url) if cfg.hold_music_url else Pause(HOLD_SECONDS))
    actions.append(Redirect("wait"))
    return actions


def hold_fallback() -> list[Action]:
    """When anything fails while waiting: keep the caller in line (Twilio asks again)."""
    return [Say("Thank you for waiting. Please stay on the line."), Pause(HOLD_SECONDS)]


# --- the callback choice ------------------------------------------------------------------

@dataclass(frozen=True)
class CallbackTurn:
    """What one callback step says and does; ``number`` is set once the caller confirmed."""

    actions: list[Action]
    number: str = ""


def callback_step(step: str, digits: str, caller: str, expected: int,
                  cfg: WaitConfig) -> CallbackTurn:
    """One step of "keep your place and we'll call you back".

    Steps: ``offer`` (1 accepts), ``confirm`` (1: the number called from, 2: another),
    ``number`` and ``retry`` (the digits of another number). An unclear answer, silence or
    a second invalid number keeps the caller in line; nothing is stored until confirmed.
    """
    own = valid_number(caller) if caller else ""
    if step == "offer" and digits == "1":
        return CallbackTurn(_confirm(own, cfg) if own else _ask(cfg, retry=False))
    if step == "confirm" and digits == "1" and own:
        return _accepted(own, expected, cfg)
    if step == "confirm" and digits == "2":
        return CallbackTurn(_ask(cfg, retry=False))
    if step in ("number", "retry") and digits:
        entered = valid_number(digits.rstrip("#"), caller)
        if entered:
            return _accepted(entered, expected, cfg)
        if step == "number":
            return CallbackTurn(_ask(cfg, retry=True))
        return CallbackTurn([cfg.say("Sorry, that number didn't work. You keep your place "
                                     "in line."), Redirect("wait")])
    return CallbackTurn([cfg.say("No problem. You keep your place in line."),
                         Redirect("wait")])


def _confirm(own: str, cfg: WaitConfig) -> list[Action]:
    ask = (f"We'll call you back at {spoken_number(own)}. To confirm, press 1. To use a "
           "different number, press 2.")
    return [Gather((cfg.say(ask),), "dtmf", 1, "", 6, action="cb_confirm")]


def _ask(cfg: WaitConfig, retry: bool) -> list[Action]:
    ask = "Please enter the phone number we should call, with the area code, then press pound."
    if retry:
        ask = "Sorry, that doesn't look like a phone number. " + ask
    return [Gather((cfg.say(ask),), "dtmf", 0, "#", 10,
                   action="cb_retry" if retry else "cb_number")]


def _accepted(number_e164: str, expected: int, cfg: WaitConfig) -> CallbackTurn:
    text = (f"Thank you. We will call you back at {spoken_number(number_e164)} "
            f"{promise_words(expected)}.")
    return CallbackTurn([cfg.say(text), Leave()], number_e164)


def callback_at(expected: int) -> int:
    """Seconds from now when the callback is placed (never sooner than MIN_CALLBACK)."""
    return min(max(expected, MIN_CALLBACK), MAX_SECONDS)
