"""The only TwiML writer: engine actions → TwiML with the twilio SDK's ``VoiceResponse``.

Table-driven: :data:`RENDERERS` maps each action type to one small function, so adding a
verb means adding a row and a function. Actions name callbacks by *event* (``"turn"``,
``"dial"``, ``"recording"``); ``urls`` turns those names into absolute webhook URLs:

- ``turn``: where a Gather posts its result,
- ``no_input``: the Redirect after every Gather, so silence always becomes an event,
- ``dial``: the Dial/Enqueue action (DialCallStatus),
- ``recording``: the Record action (RecordingUrl, RecordingDuration),
- ``whisper``: the Number URL that reads the context to the person who answers.
- ``leg``: the status callback of the person's phone leg of a Dial (rang, answered,
  hung up: :mod:`ivr.server.legs`),
- ``wait``: the Enqueue waitUrl (position, expected wait, callback offer:
  :mod:`ivr.runtime.waiting`).

:class:`ivr.runtime.actions.Job` effects are not TwiML and are skipped. The SDK sorts attributes, so
output is byte-stable (golden tests compare whole strings).

Speed: building the SDK's element tree and serialising it costs ~0.1 ms a turn, the
largest single item of a webhook turn. The document only depends on the actions and on
*which* URLs exist, never on the URL values, so :func:`render` has the SDK render each
(actions, URL names) once with placeholder URLs and then substitutes the real, escaped
URLs (exactly as ElementTree escapes them) into that cached document. URLs that need
more than ``&<>`` escaping, and actions that cannot be cache keys, take the plain path.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from ivr.runtime.actions import (
    Action,
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Job,
    Leave,
    Pause,
    Play,
    Record,
    Redirect,
    Say,
)

Urls = Mapping[str, str]
POST = "POST"
LEG_EVENTS = "initiated ringing answered completed"
"""The progress of the person's phone leg a Dial asks Twilio to report (``<Number>``)."""


def _say(parent: Any, a: Say) -> None:
    kwargs = {k: v for k, v in (("voice", a.voice), ("language", a.language)) if v}
    parent.say(a.text, **kwargs)


def _play(parent: Any, a: Play) -> None:
    parent.play(a.url)


def _pause(parent: Any, a: Pause) -> None:
    parent.pause(length=a.seconds)


_PROMPTS: dict[type, Callable[[Any, Any], None]] = {Say: _say, Play: _play, Pause: _pause}


def _gather(r: VoiceResponse, a: Gather, urls: Urls) -> None:
    """Prompts inside the Gather (a key press interrupts them), then a no-input Redirect."""
    attrs: dict[str, Any] = {
        "action": urls[a.action], "method": POST, "input": a.input, "timeout": a.timeout,
        "finish_on_key": a.finish_on_key}
    if not a.fallthrough:
        attrs["action_on_empty_result"] = True
    if a.num_digits:
        attrs["num_digits"] = a.num_digits
    if "speech" in a.input:
        attrs["speech_timeout"] = a.speech_timeout
        if a.speech_model:
            attrs["speech_model"] = a.speech_model
        if a.hints:
            attrs["hints"] = ", ".join(a.hints)
        if a.language:
            attrs["language"] = a.language
    g = r.gather(**attrs)
    for p in a.prompts:
        _PROMPTS[type(p)](g, p)
    if not a.fallthrough:
        r.redirect(urls["no_input"], method=POST)


def _dial(r: VoiceResponse, a: Dial, urls: Urls) -> None:
    attrs: dict[str, Any] = {"action": urls[a.action], "method": POST, "timeout": a.timeout}
    if a.caller_id:
        attrs["caller_id"] = a.caller_id
    d = r.dial(**attrs)
    number: dict[str, Any] = {}
    if a.whisper and "whisper" in urls:
        number.update(url=urls["whisper"], method=POST)
    if "leg" in urls:  # ringing, answered, hung up: each reaches the call's transcript
        number.update(status_callback=urls["leg"], status_callback_event=LEG_EVENTS,
                      status_callback_method=POST)
    d.number(a.number, **number)


def _enqueue(r: VoiceResponse, a: Enqueue, urls: Urls) -> None:
    wait = {"wait_url": urls["wait"], "wait_url_method": POST} if "wait" in urls else {}
    r.enqueue(a.name, action=urls[a.action], method=POST, **wait)


def _record(r: VoiceResponse, a: Record, urls: Urls) -> None:
    extra: dict[str, Any] = {}
    if a.transcribe and "transcription" in urls:
        extra = {"transcribe": True, "transcribe_callback": urls["transcription"]}
    r.record(action=urls[a.action], method=POST, max_length=a.max_length,
             play_beep=a.play_beep, finish_on_key=a.finish_on_key, timeout=a.timeout, **extra)


def _redirect(r: VoiceResponse, a: Redirect, urls: Urls) -> None:
    r.redirect(urls[a.event], method=POST)


def _hangup(r: VoiceResponse, a: Hangup, urls: Urls) -> None:
    r.hangup()


def _leave(r: VoiceResponse, a: Leave, urls: Urls) -> None:
    r.leave()


def _prompt(r: VoiceResponse, a: Say | Play | Pause, urls: Urls) -> None:
    _PROMPTS[type(a)](r, a)


def _skip(r: VoiceResponse, a: Job, urls: Urls) -> None:
    """Jobs are slow work for RQ, not TwiML."""


RENDERERS: dict[type, Callable[[VoiceResponse, Any, Urls], None]] = {
    Say: _prompt, Play: _prompt, Pause: _prompt, Gather: _gather, Dial: _dial,
    Enqueue: _enqueue, Record: _record, Redirect: _redirect, Hangup: _hangup, Job: _skip,
    Leave: _leave,
}


def render(actions: Iterable[Action], urls: Urls) -> str:
    """TwiML for one turn.

    Args:
        actions: What the engine returned for the turn.
        urls: Event name (``turn``, ``no_input``, ``dial``, ``recording``, ``whisper``) →
            absolute URL.

    Returns:
        The TwiML document as a string (byte-identical to :func:`render_uncached`).
    """
    # Jobs render nothing (and carry dicts, which cannot be cache keys).
    shown = tuple(a for a in actions if type(a) is not Job)
    names = tuple(sorted(urls))
    if not _plain("".join(urls.values())):  # every URL is plain when they all are
        return render_uncached(shown, urls)
    try:
        template, used = _template(shown, names)
    except TypeError:  # an unhashable action: render it directly
        return render_uncached(shown, urls)
    for token, name in used:
        template = template.replace(token, _escape(urls[name]))
    return template


def render_uncached(actions: Iterable[Action], urls: Urls) -> str:
    """:func:`render` without the template cache: the SDK builds the whole document."""
    r = VoiceResponse()
    for a in actions:
        RENDERERS[type(a)](r, a, urls)
    return str(r)


# A per-process nonce: a placeholder can never collide with text in a flow's prompts.
_NONCE = "ivr" + secrets.token_hex(8)


@functools.lru_cache(maxsize=512)
def _template(actions: tuple[Action, ...], names: tuple[str, ...]) -> tuple[
        str, tuple[tuple[str, str], ...]]:
    """The SDK's document for ``actions`` with a placeholder per URL name, and the
    (placeholder, name) pairs that occur in it."""
    tokens = {name: f"{_NONCE}u{i}x" for i, name in enumerate(names)}
    doc = render_uncached(actions, tokens)
    return doc, tuple((t, n) for n, t in tokens.items() if t in doc)


_NOT_PLAIN = re.compile('["\r\n\t]')


def _plain(url: str) -> bool:
    """True when ElementTree escapes ``url`` the same in an attribute and in text (only
    ``&``, ``<``, ``>``) and it is ASCII, so :func:`_escape` reproduces it exactly."""
    return url.isascii() and _NOT_PLAIN.search(url) is None


def _escape(url: str) -> str:
    if "&" in url:
        url = url.replace("&", "&amp;")
    if "<" in url:
        url = url.replace("<", "&lt;")
    if ">" in url:
        url = url.replace(">", "&gt;")
    return url


def emergency(number: str, message: str) -> str:
    """TwiML that needs nothing but config: say sorry, dial the emergency person.

    If that dial fails too, the caller is told to call back rather than left in silence.
    """
    r = VoiceResponse()
    r.say(message)
    r.dial(number, timeout=30)
    r.say("We could not connect you. Please call again in a few minutes. Goodbye.")
    r.hangup()
    return str(r)


def whisper(text: str, language: str = "") -> str:
    """TwiML read to the person who answers a Dial, before the caller is connected."""
    r = VoiceResponse()
    r.say(text or "Incoming call from the phone line.", **({"language": language}
                                                          if language else {}))
    return str(r)
