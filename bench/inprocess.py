"""A webhook turn in process, against its floor: the same Redis, two raw round trips.

Run: ``python -m bench.inprocess [--calls 300] [--parts] [--profile]`` (``bench.webhook``
runs it too, against its private redis-server). The app is built with ``create_app`` and
each turn is one WSGI call through ``app.wsgi_app`` (no HTTP server, no HTTP client; the
signed environ is built before the clock starts), so the figure is our code plus its Redis
round trips. The floor is measured in the same run, interleaved with the turns: a raw
redis-py client doing what a turn cannot do without, one pipelined read (HMGET of a call
hash + GET of a flow's current version) then one EVALSHA of a trivial script. Target: a
turn <= 2x its floor (the issue's ratio, the headline).

Interleaved with the turns too, so they are as cold as the turns are: our app's signed
no-op POST (:func:`add_noop`), a bare ``Flask()`` app with one view doing the same, and the
SDK's ``RequestValidator.validate`` alone on the same URL and form. The **structural
floor** is bare Flask + SDK validate + the floor: what a Flask app that checks Twilio's
signature with the SDK and makes the same two round trips costs before it does anything;
a turn is also reported against it (the wall, not a new target). ``--parts`` times each
part of a press turn on its own (:mod:`bench.inprocess_parts`); ``--profile`` prints the
server side's cProfile (own time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import redis
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import BASE, CLOCK, TOKEN  # noqa: E402

TARGET = 2.0
Environ = dict[str, Any]
_PROFILER: list[cProfile.Profile] = []  # set by profile(): wsgi() profiles the server only
_CPU: list[float] = []  # the CPU seconds (this thread) of each wsgi() call, appended


def make_app(redis_url: str, flows_dir: Path, spool: Path) -> Flask:
    from ivr.app import create_app

    return create_app({"redis_url": redis_url, "flows_dir": str(flows_dir), "clock": CLOCK,
                       "emergency_number": "+15559990000", "spool_dir": str(spool),
                       "twilio": {"auth_token": TOKEN}})


def environ(url: str, params: dict[str, str]) -> Environ:
    """The WSGI environ Twilio's signed POST of ``params`` to ``url`` would make."""
    sig = RequestValidator(TOKEN).compute_signature(url, params)
    path, _, query = url[len(BASE):].partition("?")
    env: Environ = EnvironBuilder(path=path, base_url=BASE, query_string=query, method="POST",
                                  data=params, headers={"X-Twilio-Signature": sig}
                                  ).get_environ()
    return env


def wsgi(app: Flask, env: Environ) -> tuple[float, str]:
    """One request through ``app.wsgi_app``: (seconds, body)."""
    status: list[str] = []

    def start_response(s: str, headers: Any, exc_info: Any = None) -> Callable[..., Any]:
        status.append(s)
        return lambda data: None

    for prof in _PROFILER:
        prof.enable()
    began, cpu = time.perf_counter(), time.thread_time()
    body = app.wsgi_app(env, start_response)  # type: ignore[arg-type]
    try:
        text = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    took = time.perf_counter() - began
    _CPU.append(time.thread_time() - cpu)
    for prof in _PROFILER:
        prof.disable()
    if not status or not status[0].startswith("200"):
        raise RuntimeError(f"{status} from {env['PATH_INFO']}: {text[:200]!r}")
    return took, text.decode()


def one_call(app: Flask, flow: str, key: str) -> tuple[float, float]:
    """A call's start and one key press: the seconds of each turn."""
    params = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32,
              "From": "+12125551234", "To": "+18005550100", "CallStatus": "ringing"}
    t_start, xml = wsgi(app, environ(f"{BASE}/voice/{flow}", params))
    gather = ET.fromstring(xml).find("Gather")
    action = gather.get("action") if gather is not None else None
    if not action:
        raise RuntimeError(f"no Gather in {xml[:200]}")
    t_press, _ = wsgi(app, environ(action, dict(params, CallStatus="in-progress", Digits=key)))
    return t_start, t_press


class Floor:
    """Two round trips to the same Redis with a raw client: a turn's irreducible I/O."""

    def __init__(self, url: str) -> None:
        self.conn = redis.Redis.from_url(url)
        self.script = self.conn.register_script("return 1")
        self.conn.hset("bench:floor:call", mapping={"turn": 1, "twiml": b"x" * 300,
                                                    "state": b"{}" * 150})

    def once(self) -> float:
        began, cpu = time.perf_counter(), time.thread_time()
        pipe = self.conn.pipeline(transaction=False)
        pipe.hmget("bench:floor:call", "turn", "twiml", "state")
        pipe.get("bench:floor:current")
        pipe.execute()
        self.script(keys=["bench:floor:call", "bench:floor:transcript"], args=[1, 2])
        _CPU.append(time.thread_time() - cpu)
        return time.perf_counter() - began

    def close(self) -> None:
        self.conn.delete("bench:floor:call")
        self.conn.close()


def p50(xs: Iterable[float]) -> float:
    return statistics.median(xs) * 1000


PRESS = {"AccountSid": "AC" + "0" * 32, "From": "+12125551234", "To": "+18005550100",
         "CallStatus": "in-progress", "Digits": "1"}
NOOP_URL = f"{BASE}/voice/card-services/noop?e=turn&turn=1"
# Figures of one measured call, in the order their CPU times are appended to _CPU.
ORDER = ("start", "press", "floor", "floor", "noop", "bare", "validate")


def measure(app: Flask, floor: Floor, calls: int, flow: str = "card-services",
            key: str = "1") -> dict[str, float]:
    """``calls`` calls (start + press), each followed by two floor samples and, when the
    app has :func:`add_noop`'s view, one signed no-op POST, one no-op POST to a bare Flask
    app and one SDK validate; p50s in ms (wall and CPU) and the ratios."""
    noop, bare, validate = _noop_env(app), bare_app(), sdk_validate()
    bare_env = _replay(environ(NOOP_URL, dict(PRESS, CallSid="CA" + uuid.uuid4().hex)))
    for _ in range(max(20, calls // 10)):  # warm-up: caches, connections, the SDK
        one_call(app, flow, key)
        floor.once()
    wall: dict[str, list[float]] = {k: [] for k in dict.fromkeys(ORDER)}
    cpu: dict[str, list[float]] = {k: [] for k in wall}
    for _ in range(calls):
        del _CPU[:]
        t_start, t_press = one_call(app, flow, key)
        floors = [floor.once(), floor.once()]
        wall["start"].append(t_start)
        wall["press"].append(t_press)
        wall["floor"] += floors
        if noop is not None:
            wall["noop"].append(wsgi(app, noop())[0])
            wall["bare"].append(wsgi(bare, bare_env())[0])
            wall["validate"].append(validate())
        for k, t in zip(ORDER, _CPU, strict=False):
            cpu[k].append(t)
    row = {f"{k}_p50": p50(v) for k, v in wall.items() if v}
    row.update({f"{k}_cpu_p50": p50(v) for k, v in cpu.items() if v})
    return ratios(row)


def ratios(row: dict[str, float]) -> dict[str, float]:
    """``row``'s p50s and each turn's ratios to the floor (the target) and, when measured,
    to floor + our no-op and to the structural floor (bare Flask + SDK validate + floor)."""
    if "bare_p50" in row:
        row["structural_p50"] = row["floor_p50"] + row["bare_p50"] + row["validate_p50"]
        row["structural_cpu_p50"] = (row["floor_cpu_p50"] + row["bare_cpu_p50"]
                                     + row["validate_cpu_p50"])
    for k in ("start", "press"):
        row[f"{k}_vs_floor"] = row[f"{k}_p50"] / row["floor_p50"]
        row[f"{k}_cpu_vs_floor"] = row[f"{k}_cpu_p50"] / row["floor_cpu_p50"]
        if "noop_p50" in row:
            row[f"{k}_vs_floor_noop"] = row[f"{k}_p50"] / (row["floor_p50"] + row["noop_p50"])
        if "structural_p50" in row:
            row[f"{k}_vs_structural"] = row[f"{k}_p50"] / row["structural_p50"]
            row[f"{k}_cpu_vs_structural"] = row[f"{k}_cpu_p50"] / row["structural_cpu_p50"]
    return row


def _noop_env(app: Flask) -> Callable[[], Environ] | None:
    """A signed press-shaped POST to :func:`add_noop`'s view (None when it is not there)."""
    if "bench_noop" not in app.view_functions:
        return None
    return _replay(environ(NOOP_URL, dict(PRESS, CallSid="CA" + uuid.uuid4().hex)))


def bare_app() -> Flask:
    """A bare ``Flask()`` with one view: the no-op of :func:`add_noop`, nothing else."""
    bare = Flask("bench_bare")
    add_noop(bare)
    return bare


def sdk_validate() -> Callable[[], float]:
    """The SDK's ``RequestValidator.validate`` alone (it always computes both port
    variants: 2 HMACs) on the no-op's URL, form and signature, as a Flask app would call
    it (``request.url``, ``request.form``); returns a timer (seconds, CPU to ``_CPU``)."""
    params = dict(PRESS, CallSid="CA" + uuid.uuid4().hex)
    form = ImmutableMultiDict(params)
    sig = RequestValidator(TOKEN).compute_signature(NOOP_URL, params)
    validator = RequestValidator(TOKEN)

    def once() -> float:
        began, cpu = time.perf_counter(), time.thread_time()
        if not validator.validate(NOOP_URL, form, sig):
            raise RuntimeError("the SDK rejected the bench's own signature")
        _CPU.append(time.thread_time() - cpu)
        return time.perf_counter() - began

    return once


def report(row: dict[str, float]) -> None:
    print("in process (WSGI call through app.wsgi_app, no HTTP), p50 per turn:")
    print(f"  start {row['start_p50']:.3f} ms | press {row['press_p50']:.3f} ms | "
          f"floor (raw redis-py: pipelined read + EVALSHA) {row['floor_p50']:.3f} ms")
    for k in ("start_vs_floor", "press_vs_floor"):
        print(f"  {k:<15} {row[k]:5.2f}x  (target <= {TARGET}) "
              f"{'ok' if row[k] <= TARGET else 'OVER'}")
    if "noop_p50" in row:
        print(f"  Flask's own share: a signed no-op POST (Flask + the signature gate) "
              f"{row['noop_p50']:.3f} ms; start / press vs floor + no-op "
              f"{row['start_vs_floor_noop']:.2f}x / {row['press_vs_floor_noop']:.2f}x")
    if "structural_p50" in row:
        print(f"  structural floor = bare Flask no-op {row['bare_p50']:.3f} + SDK validate "
              f"{row['validate_p50']:.3f} + floor {row['floor_p50']:.3f} = "
              f"{row['structural_p50']:.3f} ms ({row['structural_p50'] / row['floor_p50']:.2f}x "
              f"floor); start / press vs structural floor {row['start_vs_structural']:.2f}x / "
              f"{row['press_vs_structural']:.2f}x")
    print(f"  CPU of this thread (p50): start {row['start_cpu_p50']:.3f} ms | press "
          f"{row['press_cpu_p50']:.3f} ms | floor {row['floor_cpu_p50']:.3f} ms"
          + (f" | no-op {row['noop_cpu_p50']:.3f} ms" if "noop_cpu_p50" in row else "")
          + (f" | structural {row['structural_cpu_p50']:.3f} ms; start / press vs "
             f"structural {row['start_cpu_vs_structural']:.2f}x / "
             f"{row['press_cpu_vs_structural']:.2f}x" if "structural_cpu_p50" in row else ""))


def profile(app: Flask, calls: int, top: int = 40, sort: str = "tottime") -> str:
    """Where ``calls`` calls' turns spend their time in the server (own time per function;
    building and signing the requests is left out)."""
    prof = cProfile.Profile()
    _PROFILER.append(prof)
    try:
        for _ in range(calls):
            one_call(app, "card-services", "1")
    finally:
        _PROFILER.clear()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats(sort).print_stats(top)
    return out.getvalue()


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


def run(redis_url: str, flows_dir: Path, tmp: Path, calls: int, with_profile: bool = False,
        with_parts: bool = False) -> dict[str, Any]:
    """Measure (and print) the in-process turn against its floor on ``redis_url``; with
    ``with_parts`` also each part of a press turn (:func:`bench.inprocess_parts.parts`)."""
    app = make_app(redis_url, flows_dir, tmp / "spool-inprocess")
    add_noop(app)
    floor = Floor(redis_url)
    try:
        row: dict[str, Any] = dict(measure(app, floor, calls))
        report(row)
        if with_parts:
            from bench.inprocess_parts import parts, report_parts

            row["parts_us"] = parts(app, floor)
            report_parts(row["parts_us"])
    finally:
        floor.close()
    if with_profile:
        print(profile(app, calls))
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Start a private redis-server and measure; the figures."""
    from bench.webhook import process
    from tests.server.test_e2e import free_port, redis_server_binary, wait_until

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--profile", action="store_true", help="cProfile the server's side")
    ap.add_argument("--parts", action="store_true", help="time each part of a press turn")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ivr-inprocess-bench-"))
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with process([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no"], dict(os.environ), tmp):
        wait_until(lambda: bool(redis.Redis.from_url(url).ping()))
        return run(url, ROOT / "flows", tmp, args.calls, args.profile, args.parts)


if __name__ == "__main__":
    main()
