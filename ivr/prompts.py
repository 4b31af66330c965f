"""The engine's own words: retries, hand-offs, voicemail, confirmations and the whisper.

Kept in one place so they read as one voice, stay short (GetHuman R6) and can be
translated later. Pure functions of the call and the flow.
"""

from __future__ import annotations

import re

from ivr.events import CallState
from ivr.flow import Flow

CONNECTING = "Connecting you to a person now. Please hold."
CLOSED = "Our team is not available right now."
UNAVAILABLE = "I'm sorry, nobody could take your call just now."
GIVE_UP = "Let me get you to a person who can help."
SORRY_CONFIRM = "Sorry about that. Let's try again."
CALLBACK_GOODBYE = "Thank you. Keep your phone nearby: we will call you back as promised. Goodbye."
_YES = {"yes", "yeah", "yep", "correct", "right", "sure", "that's right", "thats right", "1"}
_NO = {"no", "nope", "wrong", "not really", "incorrect", "2"}


CALLBACK_HELLO = "Hello, we're returning your call, as you asked. Connecting you to a person now."


def retry(why: str, count: int, human_keys: tuple[str, ...]) -> str:
    """What to say before re-prompting after silence or a miss (gentler, then explicit)."""
    first = "Sorry, I didn't hear anything." if why == "no_input" else \
        "Sorry, I didn't get that."
    if count >= 2 and human_keys:
        return f"{first} You can press {human_keys[0]} at any time to reach a person."
    return first


def confirm(question: str) -> str:
    """The confirmation asked for a plausible but unsure speech match."""
    return f"{question} Is that right? Say yes or press 1, or say no or press 2."


def guess(name: str, phrases: tuple[str, ...]) -> str:
    """The question for an unsure match when the intent has no ``confirm:`` line."""
    words = phrases[0] if phrases else name.replace("_", " ")
    return f'I think you said "{words}".'


def yes_no(answer: str) -> bool | None:
    """True / False for a yes / no answer (words or keys 1/2), None when unclear."""
    words = " ".join(re.sub(r"[^\w\s']", " ", answer.lower()).split())
    if words in _YES or words.split()[:1] == ["yes"]:
        return True
    if words in _NO or words.split()[:1] == ["no"]:
        return False
    return None


def voicemail(promise: str) -> str:
    return ("Please leave your name, number and what you need after the tone, then press "
            f"pound. We will call you back {promise}.")


def voicemail_saved(promise: str) -> str:
    return f"Thank you. Your message is saved and we will call you back {promise}. Goodbye."


def whisper(call: CallState, flow: Flow) -> str:
    """What the agent hears before the caller is connected, so nobody is asked twice."""
    parts = [f"Caller from the {flow.id.replace('-', ' ')} line."]
    if call.callback:
        parts = [f"Callback you promised, from the {flow.id.replace('-', ' ')} line."]
    if call.reason:
        parts.append(f"They said: {call.reason}.")
    where = [p for p in call.path if p in flow.states][-3:]
    if where:
        parts.append("They were at " + ", then ".join(w.replace("_", " ") for w in where) + ".")
    if call.heard and call.heard != call.reason:
        parts.append(f"Last input: {call.heard}.")
    slots = [f"{k.replace('_', ' ')} {v}" for k, v in call.slots.items() if "*" not in v]
    if slots:
        parts.append("They entered " + ", ".join(slots) + ".")
    if call.history:
        parts.append(call.history)
    return " ".join(parts)
