"""One line of a call's transcript, redacted: what was heard, said and done in a turn.

The web layer appends it to the call's transcript in Redis, the simulator writes it to
``--record`` files, and the call archive stores it: one shape everywhere.
"""

from __future__ import annotations

from ivr.flowlang.machine import Compiled
from ivr.runtime.actions import Action, Job, kind_name, spoken
from ivr.runtime.events import CallState, Event, EventKind
from ivr.runtime.redact import redact_digits, redact_text, words_to_digits


def turn_record(c: Compiled, before: CallState, event: Event, after: CallState,
                actions: list[Action]) -> dict[str, object]:
    """One redacted line of a call's transcript (what was heard, said and done this turn).

    The web layer appends it to the call's transcript in Redis, the simulator writes it to
    ``--record`` files, and the call archive stores it: one shape everywhere.
    """
    state = c.flow.states.get(before.state)
    sensitive = bool(state and state.collect and state.collect.sensitive)
    heard: dict[str, object] = {"kind": event.kind.value}
    if event.digits:
        heard["digits"] = redact_digits(event.digits, sensitive)
    if event.text:
        spoken_digits = words_to_digits(event.text) if sensitive else ""
        # a PIN said aloud is as secret as one pressed: only its length is kept
        heard["text"] = "*" * len(spoken_digits) if spoken_digits else redact_text(event.text)
    if event.confidence is not None:
        heard["confidence"] = round(event.confidence, 3)
    if event.status:
        heard["status"] = event.status
    if event.kind is EventKind.RECORDING:
        heard["seconds"] = event.duration if event.url else 0
    if event.kind is EventKind.LEG and event.duration:
        heard["seconds"] = event.duration
    if event.queue is not None:
        heard["position"], heard["waited"] = event.queue.position, event.queue.waited
    return {"turn": after.turn, "from": before.state, "to": after.state, "heard": heard,
            "said": spoken(actions),
            "actions": [kind_name(a) for a in actions if not isinstance(a, Job)],
            "at": event.now.isoformat()}
