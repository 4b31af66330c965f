"""Webhook latency: our app vs a bare Flask app, small vs huge flows, Redis bytes per call.

Run: ``python -m bench.webhook [--calls 400] [--threads 4]``. One run starts a private
redis-server and, one after the other, gunicorn (2 sync workers, loopback) serving

(a) our app (``ivr.app:create_app()``) and (b) a bare Flask app that returns the same
Gather TwiML, and drives each with ``--threads`` client threads placing ``--calls`` signed
calls (start + one menu press). It prints p50/p99 per turn and the ratio ours/bare (target
≤ 1.3), the same for a generated 10-state vs 1000-state flow (target ≤ 1.1 apart), and
the Redis bytes per active call (``MEMORY USAGE`` of its keys; target ≤ 2 KB), and the
Redis round trips of each kind of turn, counted in process with a redis-py connection
class that counts what it sends (target ≤ 2 for a turn; the outbox drain after the
response is counted apart). Then, in this process on the same Redis
(:mod:`bench.inprocess`): a turn as one WSGI call (no HTTP) against its floor, two raw
redis-py round trips (target ≤ 2x), and the parts of a press turn. Every process it
starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import CLOCK, TOKEN, inprocess, process  # noqa: E402
from bench.compile import generate  # noqa: E402
from ivr.store.keys import CALL, TRANSCRIPT  # noqa: E402
from tests.server.test_e2e import free_port, redis_server_binary, wait_until  # noqa: E402

BARE = '''
from flask import Flask, Response
app = Flask("bare")
XML = open({path!r}).read()

@app.post("/voice/<flow>")
@app.post("/voice/<flow>/event")
def voice(flow):
    return Response(XML, mimetype="text/xml")
'''


def gunicorn(app: str, port: int, env: dict[str, str], cwd: Path) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
            "--log-level", "warning", app]


def post(port: int, url: str, params: dict[str, str]) -> tuple[float, str]:
    """POST signed ``params``; return (seconds, body)."""
    sig = RequestValidator(TOKEN).compute_signature(url, params)
    body = urllib.parse.urlencode(params)
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("POST", path, body, {"X-Twilio-Signature": sig,
                                      "Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    text = resp.read().decode()
    elapsed = time.perf_counter() - started
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"{resp.status} from {url}: {text[:200]}")
    return elapsed, text


def one_call(port: int, flow: str, key: str, sids: list[str]) -> tuple[float, float]:
    sid = "CA" + uuid.uuid4().hex
    base = f"http://127.0.0.1:{port}"
    params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+12125551234",
              "To": "+18005550100", "CallStatus": "ringing"}
    t_start, xml = post(port, f"{base}/voice/{flow}", params)
    gather = ET.fromstring(xml).find("Gather")
    action = gather.get("action") if gather is not None else None
    t_press, _ = post(port, action or f"{base}/voice/{flow}/event?e=turn&turn=1",
                      dict(params, CallStatus="in-progress", Digits=key))
    sids.append(sid)
    return t_start, t_press


def load(port: int, flow: str, key: str, calls: int, threads: int) -> dict[str, list[float]]:
    """``calls`` calls over ``threads`` threads; latencies per turn."""
    out: dict[str, list[float]] = {"start": [], "press": [], "sids": []}  # type: ignore[dict-item]
    lock = threading.Lock()
    per = calls // threads

    def worker() -> None:
        sids: list[str] = []
        mine = [one_call(port, flow, key, sids) for _ in range(per)]
        with lock:
            out["start"] += [a for a, _ in mine]
            out["press"] += [b for _, b in mine]
            out["sids"] += sids  # type: ignore[list-item]

    for _ in range(max(10, calls // 20)):  # warm-up: compile caches, connections
        one_call(port, flow, key, [])
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=100)[int(p) - 1] * 1000 if len(xs) > 1 else 0.0


def report(name: str, lat: dict[str, list[float]]) -> dict[str, float]:
    row = {f"{turn}_{p}": pct(lat[turn], q) for turn in ("start", "press")
           for p, q in (("p50", 50), ("p99", 99))}
    print(f"  {name:<28} start p50 {row['start_p50']:6.2f} ms  p99 {row['start_p99']:6.2f} ms"
          f" | press p50 {row['press_p50']:6.2f} ms  p99 {row['press_p99']:6.2f} ms")
    return row


def ratio(label: str, a: dict[str, float], b: dict[str, float],
          target: float) -> dict[str, float]:
    out = {}
    for k in ("start_p50", "press_p50", "start_p99", "press_p99"):
        r = a[k] / b[k] if b[k] else float("inf")
        out[k] = r
        print(f"  {label} {k:<10} {r:5.2f}x  (target <= {target}) "
              f"{'ok' if r <= target else 'OVER'}")
    return out


class CountingConnection(redis.Connection):
    """A redis-py connection that counts round trips: one per ``send_packed_command``
    (a pipeline or a script is one send, then its replies are read)."""

    sent = 0

    def send_packed_command(self, command: object, check_health: bool = True) -> None:
        type(self).sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[arg-type]


def round_trips(rurl: str, flows: Path, tmp: Path) -> dict[str, dict[str, int]]:
    """Redis round trips of each turn of a card-services call, in process: while the
    request is served (``turn``: what the caller waits for) and in the outbox drain once
    the response is closed (``drain``), after a warm-up call (scripts loaded)."""
    from ivr.app import create_app
    from ivr.server.context import store_of
    from tests.twilio_caller import Reply, TwilioCaller

    app = create_app({"redis_url": rurl, "flows_dir": str(flows), "clock": CLOCK,
                      "emergency_number": "+15559990000", "twilio": {"auth_token": TOKEN},
                      "spool_dir": str(tmp / "spool"), "TESTING": True})
    pool = store_of(app).conn.connection_pool
    pool.connection_class = CountingConnection
    pool.reset()  # type: ignore[no-untyped-call]  # drop the connections made at start
    client = app.test_client()
    out: dict[str, dict[str, int]] = {}
    label: list[str] = []

    def send(url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        before = CountingConnection.sent
        r = client.post(url, data=dict(data), headers=dict(headers))  # not closed yet
        served = CountingConnection.sent - before
        body = r.get_data(as_text=True)
        r.close()                                           # what gunicorn does once sent
        if label:
            out[label[0]] = {"turn": served, "drain": CountingConnection.sent - before - served}
        return Reply(r.status_code, body)

    for warm in (True, False):
        c = TwilioCaller(send, token=TOKEN)
        _call_steps(c, label, warm)
    return out


def _call_steps(c: Any, label: list[str], warm: bool) -> None:
    """One call through the turns :func:`round_trips` reports, each under its label."""

    def step(name: str) -> None:
        label[:] = [] if warm else [name]

    step("start (new call; caller history read with it)")
    c.dial()
    step("menu press")
    c.press("9")
    step("capture (commits the inbox job)")
    c.say("I found a card")
    dial = c.action("Dial")
    step("dial answered (commits the call_end job)")
    c.answered("completed")
    step("duplicate of that delivery (a Twilio retry)")
    c.post(dial, c.params(DialCallStatus="completed"))
    step("status callback after the end (nothing to apply)")
    c.hangup()


def bytes_per_call(url: str, sids: list[str]) -> float:
    r = redis.Redis.from_url(url)
    sample = sids[:200]
    total = sum((r.memory_usage(CALL.format(s)) or 0) +
                (r.memory_usage(TRANSCRIPT.format(s)) or 0) for s in sample)
    return total / max(1, len(sample))


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the comparison; print it and return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--inprocess-calls", type=int, default=300)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ivr-webhook-bench-"))
    flows = tmp / "flows"
    flows.mkdir()
    (flows / "card-services.yaml").write_text((ROOT / "flows/card-services.yaml").read_text())
    for n in (10, 1000):
        (flows / f"gen-{n}.yaml").write_text(generate(n).replace("flow: bench",
                                                                   f"flow: gen-{n}"))
    rport = free_port()
    rurl = f"redis://127.0.0.1:{rport}/0"
    env = dict(os.environ, IVR_REDIS_URL=rurl, TWILIO_AUTH_TOKEN=TOKEN, IVR_CLOCK=CLOCK,
               IVR_EMERGENCY_NUMBER="+15559990000", IVR_FLOWS_DIR=str(flows),
               IVR_SPOOL_DIR=str(tmp / "spool"), PYTHONPATH=str(ROOT))
    with process([redis_server_binary(), "--port", str(rport), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no"], env, tmp):
        wait_until(lambda: bool(redis.Redis.from_url(rurl).ping()))
        return run(args, env, tmp, rurl)


def serve(app: str, env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    port = free_port()
    return port, gunicorn(app, port, env, cwd)


def _up(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    conn.request("GET", "/voice/x")
    conn.getresponse().read()
    return True


def run(args: argparse.Namespace, env: dict[str, str], tmp: Path,
        rurl: str) -> dict[str, object]:
    print(f"webhook bench: {args.calls} calls (start + menu press) x {args.threads} threads, "
          "gunicorn 2 sync workers, loopback")
    port, cmd = serve("ivr.app:create_app()", env, ROOT)
    with process(cmd, env, ROOT):
        wait_until(lambda: _up(port))
        ours = load(port, "card-services", "1", args.calls, args.threads)
        sids = ours["sids"]  # type: ignore[assignment]
        _, xml = post(port, f"http://127.0.0.1:{port}/voice/card-services",
                      {"CallSid": "CAtemplate", "From": "+1", "To": "+1"})
        small = load(port, "gen-10", "1", args.calls, args.threads)
        big = load(port, "gen-1000", "1", args.calls, args.threads)
    (tmp / "gather.xml").write_text(xml)
    (tmp / "bare.py").write_text(BARE.format(path=str(tmp / "gather.xml")))
    port, cmd = serve("bare:app", env, tmp)
    with process(cmd, env, tmp):
        wait_until(lambda: _up(port))
        bare = load(port, "card-services", "1", args.calls, args.threads)
    print("latency per turn (client side):")
    r_ours, r_bare = report("ivr (card-services)", ours), report("bare Flask, same TwiML", bare)
    r_small, r_big = report("ivr gen-10 (10 states)", small), report("ivr gen-1000", big)
    vs_bare = ratio("ours/bare     ", r_ours, r_bare, 1.3)
    vs_size = ratio("1000/10 states", r_big, r_small, 1.1)
    per_call = bytes_per_call(rurl, sids)
    print(f"Redis bytes per active call (after start + press): {per_call:.0f} B  "
          "(target <= 2048)")
    trips = round_trips(rurl, tmp / "flows", tmp)
    print("Redis round trips per turn (in process; target <= 2 for the turn itself):")
    for name, n in trips.items():
        print(f"  {name:<52} turn {n['turn']}  drain after the response {n['drain']}")
    in_process = inprocess.run(rurl, tmp / "flows", tmp, args.inprocess_calls,
                               with_parts=True)
    return {"calls": args.calls, "threads": args.threads,
            "latency_ms": {"ivr": r_ours, "bare": r_bare, "gen10": r_small, "gen1000": r_big},
            "ratio_ours_vs_bare": vs_bare, "ratio_1000_vs_10_states": vs_size,
            "redis_bytes_per_call": per_call, "redis_round_trips": trips,
            "in_process": in_process,
            "targets": {"ours_vs_bare": 1.3, "1000_vs_10_states": 1.1,
                        "redis_bytes_per_call": 2048, "redis_round_trips_per_turn": 2,
                        "in_process_vs_floor": inprocess.TARGET}}


if __name__ == "__main__":
    main()
