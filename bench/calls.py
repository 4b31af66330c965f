"""Concurrent calls: does a turn get slower, and how much Redis does a call hold, as the
number of active calls grows? ``python -m bench.calls [--levels 100,1000,10000]``.

One run starts a private redis-server (loopback, no persistence) and the app in-process
(Flask test client: no HTTP, so the figures are the app + Redis, not the network). For
each level it fills Redis up to that many active calls (each placed through the webhooks:
start + a menu press, like a caller waiting at the PIN prompt), then times ``--turns``
new calls' start and press turns. Memory is ``INFO memory`` ``used_memory`` growth per
call and a ``MEMORY USAGE`` sample of the call's keys (target <= 2 KB per active call).
Ratios are against the smallest level. Every process it starts is stopped.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import BASE, CLOCK, TOKEN  # noqa: E402
from ivr.store.keys import CALL, TRANSCRIPT, sid_of  # noqa: E402
from tests.server.test_e2e import free_port, redis_server_binary, wait_until  # noqa: E402
from tests.twilio_caller import sign  # noqa: E402

LEVELS = (100, 1000, 10_000)


def _call(client: Any, timed: bool = False) -> tuple[float, float, str]:
    """Start a call on card-services and press 2 (balance: the PIN prompt)."""
    sid = "CA" + uuid.uuid4().hex
    params = {"CallSid": sid, "From": "+12125551234", "To": "+18005550100"}
    url = f"{BASE}/voice/card-services"
    t0 = time.perf_counter()
    r = client.post(url, data=params, headers={"X-Twilio-Signature": sign(url, params, TOKEN)})
    t1 = time.perf_counter()
    assert r.status_code == 200 and b"Gather" in r.data, r.data[:300]
    press = dict(params, Digits="2")
    url2 = f"{BASE}/voice/card-services/event?e=turn&turn=1"
    t2 = time.perf_counter()
    r = client.post(url2, data=press, headers={"X-Twilio-Signature": sign(url2, press, TOKEN)})
    t3 = time.perf_counter()
    assert r.status_code == 200 and b"PIN" in r.data, r.data[:300]
    return t1 - t0, t3 - t2, sid


def measure(levels: list[int], turns: int, conn: redis.Redis, client: Any) -> list[dict[str, Any]]:
    rows = []
    active = 0
    base_mem = int(conn.info("memory")["used_memory"])
    for level in levels:
        while active < level:
            _call(client)
            active += 1
        mem = int(conn.info("memory")["used_memory"])
        sample = [sid_of(k, CALL) for k in conn.scan_iter(CALL.format("*"), count=1000)]
        sample = sample[:200]
        usage = sum((conn.memory_usage(CALL.format(s)) or 0) +
                    (conn.memory_usage(TRANSCRIPT.format(s)) or 0) for s in sample)
        starts, presses = [], []
        for _ in range(turns):
            a, b, _sid = _call(client)
            starts.append(a)
            presses.append(b)
        active += turns
        rows.append({"active_calls": level,
                     "start_ms_p50": statistics.median(starts) * 1e3,
                     "press_ms_p50": statistics.median(presses) * 1e3,
                     "press_ms_mean": statistics.fmean(presses) * 1e3,
                     "used_memory_per_call_b": (mem - base_mem) / level,
                     "memory_usage_per_call_b": usage / max(1, len(sample))})
    first = rows[0]
    for r in rows:
        r["press_ratio"] = r["press_ms_p50"] / first["press_ms_p50"]
        r["start_ratio"] = r["start_ms_p50"] / first["start_ms_p50"]
        r["memory_ratio"] = r["used_memory_per_call_b"] / first["used_memory_per_call_b"]
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'active':>7} {'start p50 ms':>13} {'press p50 ms':>13} {'ratio':>6} "
            f"{'B/call (INFO)':>14} {'B/call (MEMORY)':>16} {'ratio':>6}")
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(f"{r['active_calls']:>7,} {r['start_ms_p50']:>13.3f} "
                   f"{r['press_ms_p50']:>13.3f} {r['press_ratio']:>6.2f} "
                   f"{r['used_memory_per_call_b']:>14.0f} {r['memory_usage_per_call_b']:>16.0f} "
                   f"{r['memory_ratio']:>6.2f}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Print the table; return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default=",".join(map(str, LEVELS)))
    ap.add_argument("--turns", type=int, default=300, help="timed calls per level")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="ivr-calls-bench-"))
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    proc = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: bool(redis.Redis.from_url(url).ping()))
        from ivr.app import create_app

        app = create_app({"redis_url": url, "emergency_number": "+15559990000",
                          "flows_dir": str(ROOT / "flows"), "clock": CLOCK,
                          "spool_dir": str(tmp / "spool"), "twilio": {"auth_token": TOKEN},
                          "config_path": None, "TESTING": True})
        client = app.test_client()
        for _ in range(50):                      # warm up caches and the connection pool
            _call(client)
        conn = redis.Redis.from_url(url)
        conn.flushdb()
        from ivr.config import load_settings
        from ivr.server.registry import reload_flows
        from ivr.store.calls import Store

        reload_flows(load_settings(None, {"flows_dir": str(ROOT / "flows"),
                                          "emergency_number": "+15559990000"}), Store(conn))
        rows = measure(levels, args.turns, conn, client)
        server = conn.info("server")["redis_version"]
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"concurrent calls: {args.turns} timed calls per level, in-process app, "
          f"redis-server {server} on loopback")
    print(table(rows))
    print("ratio = vs the smallest level (1.00 = no slower / no bigger); target <= 2048 B "
          "per active call")
    return {"levels": rows, "turns": args.turns, "redis_version": server,
            "target_bytes_per_call": 2048}


if __name__ == "__main__":
    main()
