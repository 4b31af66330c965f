"""Where a webhook turn's time goes: each part of a menu press timed on its own, in process.

Run by ``python -m bench.inprocess --parts`` (and ``bench.webhook``). Each part is run
``n`` times and its median kept, in the order a press turn runs them:
Flask itself (a no-op POST view under ``/voice`` with the same form), the signature check,
parameters → event, the flow registry, ``engine.step``, the action URLs, the TwiML,
the transcript line, and ``Store.advance`` with the engine stubbed out (its two round
trips with the turn's real payloads, JSON and zlib included). Beside them, the floor: two
round trips with a raw redis-py client. The parts add up to about one turn.
"""

from __future__ import annotations

import io
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from bench.inprocess import BASE, TOKEN, Environ, Floor, environ, wsgi


def median_us(func: Callable[[], object], n: int) -> float:
    took = []
    for _ in range(n):
        began = time.perf_counter()
        func()
        took.append(time.perf_counter() - began)
    return statistics.median(took) * 1e6


def add_noop(app: Flask) -> None:
    """A view that parses the form and answers constant TwiML (before the first request)."""

    def noop(flow_id: str) -> Response:
        request.form.get("Digits")
        return Response("<Response />", mimetype="text/xml")

    app.add_url_rule("/voice/<flow_id>/noop", "bench_noop", noop, methods=["POST"])


def _replay(env: Environ) -> Callable[[], Environ]:
    body = env["wsgi.input"].read()

    def fresh() -> Environ:
        return dict(env, **{"wsgi.input": io.BytesIO(body)})

    return fresh


def parts(app: Flask, floor: Floor, n: int = 2000) -> dict[str, float]:
    """Median µs of each part of a press turn (``add_noop`` must have run on ``app``)."""
    from ivr.runtime.engine import step
    from ivr.runtime.record import turn_record
    from ivr.server import guard, voice
    from ivr.server.context import flows, get_store, settings
    from ivr.store.calls import Turn
    from ivr.telephony import twiml
    from ivr.telephony.params import event_from
    from ivr.telephony.signatures import signed_by_twilio

    sid = "CA" + uuid.uuid4().hex
    params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+12125551234",
              "To": "+18005550100", "CallStatus": "ringing"}
    wsgi(app, environ(f"{BASE}/voice/card-services", params))
    press = dict(params, CallStatus="in-progress", Digits="1")
    url = f"{BASE}/voice/card-services/event?e=turn&turn=1"
    noop = _replay(environ(f"{BASE}/voice/card-services/noop?e=turn&turn=1", press))
    out: dict[str, float] = {"flask: no-op POST view": median_us(lambda: wsgi(app, noop()), n)}
    env = environ(url, press)
    sig = env["HTTP_X_TWILIO_SIGNATURE"]
    with app.test_request_context("/voice/card-services/event?e=turn&turn=1", method="POST",
                                  data=press, base_url=BASE,
                                  headers={"X-Twilio-Signature": sig}):
        store, form = get_store(), request.form
        before = store.load(sid)
        assert before is not None
        c = flows().pinned(store, before.flow, before.version)
        ev = event_from("turn", form, settings().now())
        after, actions = step(c, before, ev)
        urls = voice.event_urls(after.flow, after.turn, after.sid)
        record = turn_record(c, before, ev, after, actions)
        page = twiml.render(actions, urls)
        timed: dict[str, Callable[[], object]] = {
            "signature (SDK validate)": lambda: signed_by_twilio(
                TOKEN, guard.signed_urls(), form.to_dict(), sig),
            "params -> event": lambda: event_from("turn", form, settings().now()),
            "flow registry (pinned)": lambda: flows().pinned(store, before.flow,
                                                             before.version),
            "engine.step": lambda: step(c, before, ev),
            "event_urls": lambda: voice.event_urls(after.flow, after.turn, after.sid),
            "twiml.render": lambda: twiml.render(actions, urls),
            "turn_record": lambda: turn_record(c, before, ev, after, actions),
        }
        out.update({name: median_us(func, n) for name, func in timed.items()})
        done = Turn(after, page, record)
        out["Store.advance, engine stubbed (2 round trips)"] = median_us(
            lambda: store.advance("CA" + uuid.uuid4().hex, 0, lambda b, cur: done,
                                  current_of="card-services"), n)
    out["sum of the parts"] = sum(out.values())
    out["floor: raw redis-py, 2 round trips"] = median_us(floor.once, n)
    return out


def report(row: dict[str, Any]) -> None:
    print("a press turn, part by part (median µs, in process):")
    for name, us in row.items():
        print(f"  {name:<48} {us:8.1f}")
