"""A press turn part by part, each part alone (``python -m bench.inprocess --parts``).

Median µs of ``n`` runs of each part, hot (the same inputs again and again), beside the
parts of the **structural floor**: a bare ``Flask()`` app's no-op POST, the SDK's
``RequestValidator.validate`` alone, and the floor's two raw round trips. The interleaved,
cold figures of the same things are :func:`bench.inprocess.measure`'s.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, request

from bench import BASE
from bench.inprocess import (
    NOOP_URL,
    Floor,
    _replay,
    bare_app,
    environ,
    median_us,
    sdk_validate,
    wsgi,
)

SUM = "sum: our no-op (with the gate) + the parts after it"
NOT_SUMMED = ("bare", "SDK", "our signature gate", "Store.advance, engine stubbed, a start")


def parts(app: Flask, floor: Floor, n: int = 2000) -> dict[str, float]:
    """Median µs of each part of a press turn (``add_noop`` must have run on ``app``)."""
    sid = "CA" + uuid.uuid4().hex
    params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+12125551234",
              "To": "+18005550100", "CallStatus": "ringing"}
    wsgi(app, environ(f"{BASE}/voice/card-services", params))
    press = dict(params, CallStatus="in-progress", Digits="1")
    out = _structural(app, press, floor, n)
    out.update(_turn_parts(app, press, n))
    # The no-op went through the gate already; a press turn commits like the press line.
    out[SUM] = sum(us for name, us in out.items() if not name.startswith(NOT_SUMMED))
    out["floor: raw redis-py, 2 round trips"] = median_us(floor.once, n)
    out["structural floor = bare Flask + SDK validate + 2 round trips"] = (
        out["bare Flask no-op (a Flask() with one view)"]
        + out["SDK validate alone (both port variants)"]
        + out["floor: raw redis-py, 2 round trips"])
    return out


def _turn_parts(app: Flask, press: dict[str, str], n: int) -> dict[str, float]:
    """Our parts of a press turn, each alone, inside the press's request context."""
    from ivr.runtime.engine import step
    from ivr.runtime.record import turn_record
    from ivr.server import guard, voice
    from ivr.server.context import flows, get_store, settings
    from ivr.store.calls import Commit
    from ivr.telephony import twiml
    from ivr.telephony.params import event_from

    url = f"{BASE}/voice/card-services/event?e=turn&turn=1"
    sig = environ(url, press)["HTTP_X_TWILIO_SIGNATURE"]
    with app.test_request_context(url[len(BASE):], method="POST", data=press, base_url=BASE,
                                  headers={"X-Twilio-Signature": sig}):
        store, form = get_store(), request.form
        before = store.load(press["CallSid"])
        assert before is not None
        c = flows().pinned(store, before.flow, before.version)
        ev = event_from("turn", form, settings().now())
        after, actions = step(c, before, ev)
        urls = voice.event_urls(after)
        record = turn_record(c, before, ev, after, actions)
        timed: dict[str, Callable[[], object]] = {
            "our signature gate (guard.signature_problem)": guard.signature_problem,
            "params -> event": lambda: event_from("turn", form, settings().now()),
            "flow registry (pinned)": lambda: flows().pinned(store, before.flow,
                                                             before.version),
            "engine.step": lambda: step(c, before, ev),
            "event_urls": lambda: voice.event_urls(after),
            "twiml.render": lambda: twiml.render(actions, urls),
            "turn_record": lambda: turn_record(c, before, ev, after, actions),
        }
        out = {name: median_us(func, n) for name, func in timed.items()}
        out.update(_advances(store, Commit(after, twiml.render(actions, urls), record), n))
    return out


def _advances(store: Any, done: Any, n: int) -> dict[str, float]:
    """``Store.advance`` with the engine stubbed: a new call's first turn, and a stored
    call's next turn (the press shape: no flow pointer read, no live-index note)."""
    again = type(done)(dataclasses.replace(done.call, turn=done.call.turn + 1), done.twiml,
                       done.record)
    start = median_us(lambda: store.advance("CA" + uuid.uuid4().hex, 0, lambda b, cur: done,
                                            current_of="card-services"), n)

    def press_advance() -> float:  # a stored call at done's turn, then its next turn
        call = "CA" + uuid.uuid4().hex
        store.advance(call, 0, lambda b, cur: done, current_of="card-services")
        began = time.perf_counter()
        store.advance(call, done.call.turn, lambda b, cur: again)
        return time.perf_counter() - began

    return {"Store.advance, engine stubbed, a start (2 round trips)": start,
            "Store.advance, engine stubbed, a press (2 round trips)": statistics.median(
                press_advance() for _ in range(n)) * 1e6}


def _structural(app: Flask, press: dict[str, str], floor: Floor, n: int) -> dict[str, float]:
    """Our no-op and the two web parts of the structural floor, alone."""
    noop = _replay(environ(NOOP_URL, press))
    bare, bare_env = bare_app(), _replay(environ(NOOP_URL, press))
    validate = sdk_validate()
    return {"our app: signed no-op POST (create_app + gate)": median_us(
                lambda: wsgi(app, noop()), n),
            "bare Flask no-op (a Flask() with one view)": median_us(
                lambda: wsgi(bare, bare_env()), n),
            "SDK validate alone (both port variants)": median_us(validate, n)}


def report_parts(row: dict[str, Any]) -> None:
    print("a press turn, part by part (median µs, in process, each part alone and hot):")
    for name, us in row.items():
        print(f"  {name:<62} {us:8.1f}")
    floor = row["floor: raw redis-py, 2 round trips"]
    structural = row["structural floor = bare Flask + SDK validate + 2 round trips"]
    print(f"  structural floor / floor {structural / floor:.2f}x; sum of our parts / floor "
          f"{row[SUM] / floor:.2f}x")
