"""Webhook latency: our app vs a bare Flask app, small vs huge flows, Redis bytes per call.

Run: ``python -m bench.webhook [--calls 400] [--threads 4]``. One run starts a private
redis-server and, one after the other, gunicorn (2 sync workers, loopback) serving

(a) our app (``ivr.app:create_app()``) and (b) a bare Flask app that returns the same
Gather TwiML, and drives each with ``--threads`` client threads placing ``--calls`` signed
calls (start + one menu press). It prints p50/p99 per turn and the ratio ours/bare (target
≤ 1.3), the same for a generated 10-state vs 1000-state flow (target ≤ 1.1 apart), and
the Redis bytes per active call (``MEMORY USAGE`` of its keys; target ≤ 2 KB).
Every process it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.compile import generate  # noqa: E402
from tests.server.test_e2e import free_port, redis_server_binary, wait_until  # noqa: E402

TOKEN = "bench-token"
CLOCK = "2026-11-20T14:05:00-05:00"
BARE = '''
from flask import Flask, Response
app = Flask("bare")
XML = open({path!r}).read()

@app.post("/voice/<flow>")
@app.post("/voice/<flow>/event")
def voice(flow):
    return Response(XML, mimetype="text/xml")
'''


@contextmanager
def process(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


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


def bytes_per_call(url: str, sids: list[str]) -> float:
    r = redis.Redis.from_url(url)
    sample = sids[:200]
    total = sum((r.memory_usage(f"ivr:call:{s}") or 0) +
                (r.memory_usage(f"ivr:transcript:{s}") or 0) for s in sample)
    return total / max(1, len(sample))


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the comparison; print it and return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--threads", type=int, default=4)
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
    return {"calls": args.calls, "threads": args.threads,
            "latency_ms": {"ivr": r_ours, "bare": r_bare, "gen10": r_small, "gen1000": r_big},
            "ratio_ours_vs_bare": vs_bare, "ratio_1000_vs_10_states": vs_size,
            "redis_bytes_per_call": per_call,
            "targets": {"ours_vs_bare": 1.3, "1000_vs_10_states": 1.1,
                        "redis_bytes_per_call": 2048}}


if __name__ == "__main__":
    main()
