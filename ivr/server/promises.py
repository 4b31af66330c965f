"""The web layer's part of the callback policy: what the engine cannot know without Redis.

Before a turn in a state where a callback can be promised (the offer, voicemail, the
queue's callback choice, the person being rung), :func:`engine_options` reads how many
callbacks the caller and the candidate numbers (their own; the digits just typed) had
today and hands the engine the numbers over ``callback_max_per_day``
(``Options.callback_over_limit``). After the turn committed, :func:`count` adds the
callbacks it promised (:mod:`ivr.store.quota`). The engine stays pure: it decides with
plain values (:mod:`ivr.runtime.callback_policy`).
"""

from __future__ import annotations

import logging
from datetime import UTC

from flask import g

from ivr.flowlang import phone
from ivr.flowlang.machine import (
    CALLBACK_CONFIRM,
    CALLBACK_NUMBER,
    OFFER,
    VOICEMAIL,
    WAIT,
    Compiled,
)
from ivr.flowlang.model import HUMAN, Kind
from ivr.runtime.actions import Job
from ivr.runtime.events import CallState, Event, EventKind
from ivr.runtime.person import ANSWERED
from ivr.runtime.work import Options
from ivr.server import meaning
from ivr.server.context import get_store, settings
from ivr.store import quota

log = logging.getLogger(__name__)
PROMISE_STATES = {OFFER, VOICEMAIL, WAIT, CALLBACK_CONFIRM, CALLBACK_NUMBER, HUMAN}
_PROMISED = "ivr_promised"


def engine_options(c: Compiled | None = None, call: CallState | None = None,
                   event: Event | None = None) -> Options:
    """The deployment's part of the engine's behaviour: hold music, offers in the queue,
    the callback countries and (for a turn that may promise a callback) today's limits."""
    s = settings()
    over: frozenset[str] = frozenset()
    if c is not None and call is not None and event is not None and _may_promise(c, call, event):
        over = _over_limit(call, event)
    return Options(s.hold_music_url, s.wait_offer_every, s.wait_offer_threshold,
                   s.callback_regions(), over, meaning.guard())


def _may_promise(c: Compiled, call: CallState, event: Event) -> bool:
    """Whether this turn can promise a callback (only then are the counts read, so an
    ordinary turn, a queue tick or an answered dial stays two round trips)."""
    state = c.flow.states.get(call.state)
    if call.state == VOICEMAIL or (state is not None and state.kind is Kind.VOICEMAIL):
        return event.kind is not EventKind.DIGITS
    if event.kind is EventKind.DIAL_RESULT:  # nobody took it: the offer, or not
        return call.state in (HUMAN, WAIT, CALLBACK_CONFIRM, CALLBACK_NUMBER) and \
            event.status not in ANSWERED | {"leave", "hangup"}
    return event.kind is EventKind.DIGITS and call.state in PROMISE_STATES - {HUMAN}


def _over_limit(call: CallState, event: Event) -> frozenset[str]:
    s = settings()
    own = phone.valid_number(call.caller)
    typed = phone.valid_number(event.digits.rstrip("#"), call.caller) \
        if event.kind is EventKind.DIGITS and len(event.digits) > 3 else ""
    try:
        return quota.over_limit(get_store().conn, s.caller_key_secret, _day(event), own,
                                (own, typed), s.callback_max_per_day)
    except Exception:  # noqa: BLE001 - unknown counts: the caller is not refused for it
        log.warning("callback counts unavailable", exc_info=True)
        return frozenset()


def _day(event: Event) -> str:
    return event.now.astimezone(UTC).date().isoformat()


def remember(call: CallState, event: Event, jobs: list[Job]) -> None:
    """Note the callbacks this turn promises (the last computed turn wins: a retried
    compare-and-set computes the turn again)."""
    numbers = [str(j.payload.get("number")) for j in jobs
               if j.kind == "callback" and j.payload.get("number")]
    g.setdefault(_PROMISED, {})[call.sid] = (_day(event), call.caller, numbers)


def count(sid: str, applied: bool) -> None:
    """After the commit: count the callbacks the applied turn of ``sid`` promised."""
    promised = g.get(_PROMISED, {}).pop(sid, None)
    if not applied or not promised or not promised[2]:
        return
    day, caller, numbers = promised
    try:
        for number in numbers:
            quota.record(get_store().conn, settings().caller_key_secret, day, sid,
                         phone.valid_number(caller), number)
    except Exception:  # noqa: BLE001 - a lost count loosens a limit, never the call
        log.warning("callback count for %s not recorded", sid[:64], exc_info=True)
