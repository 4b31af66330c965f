"""Per-turn cost of call state on a 3-primary Redis Cluster vs one Redis, in the same run.

Run: ``python -m bench.cluster [--calls 300] [--threads 4] [--inprocess-calls 400]``.
Starts Debian's ``redis-server`` three ways on loopback (a single server, a 3-primary
cluster joined with ``redis-cli --cluster create``, and a separate Redis for the RQ
jobs, which both setups use, so only the call-state topology differs), then:

1. in process, a turn as one WSGI call (:func:`bench.inprocess.one_call`), the two apps'
   calls interleaved so both see the same machine load: p50/p99 of the start and the
   press turn, and the ratio cluster/single;
2. through gunicorn (2 sync workers, ``--threads`` client threads, ``--calls`` calls of
   start + press, :func:`bench.webhook.load`), one app after the other: p50/p99 and ratio.

Every process it starts is stopped before it exits. Needs ``apt-get install
redis-server redis-tools``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import CLOCK, TOKEN, inprocess, process  # noqa: E402
from bench.webhook import _up, load, ratio, report, serve  # noqa: E402
from tests.server.test_e2e import wait_until  # noqa: E402
from tests.topology.servers import Cluster, missing_binaries, plain_redis  # noqa: E402

TARGET = 1.5
"""A cluster turn may cost at most this many single-Redis turns (p50)."""


def settings(single: str, cluster: Cluster, jobs: str) -> dict[str, dict[str, Any]]:
    common = {"jobs_redis_url": jobs, "clock": CLOCK, "emergency_number": "+15559990000",
              "twilio": {"auth_token": TOKEN}}
    return {"single": {"redis_url": single, **common},
            "cluster": {"redis_cluster": True, "redis_cluster_nodes": cluster.nodes,
                        **common}}


def in_process(confs: dict[str, dict[str, Any]], flows: Path, tmp: Path,
               calls: int) -> dict[str, dict[str, float]]:
    """Interleaved in-process calls on both apps: p50/p99 (ms) of each turn."""
    from ivr.app import create_app

    apps = {name: create_app({**conf, "flows_dir": str(flows), "spool_dir": str(tmp / name)})
            for name, conf in confs.items()}
    times: dict[str, dict[str, list[float]]] = {n: {"start": [], "press": []} for n in apps}
    for i in range(calls + max(20, calls // 10)):
        for name, app in apps.items():
            t_start, t_press = inprocess.one_call(app, "card-services", "1")
            if i >= max(20, calls // 10):  # after the warm-up
                times[name]["start"].append(t_start)
                times[name]["press"].append(t_press)
    out = {}
    for name, turns in times.items():
        out[name] = {f"{turn}_{p}": _pct(xs, q) for turn, xs in turns.items()
                     for p, q in (("p50", 50), ("p99", 99))}
        row = out[name]
        print(f"  in process, {name:<8} start p50 {row['start_p50']:6.2f} ms  p99 "
              f"{row['start_p99']:6.2f} | press p50 {row['press_p50']:6.2f} ms  p99 "
              f"{row['press_p99']:6.2f}")
    return out


def _pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] * 1000


def env_of(conf: dict[str, Any], flows: Path, tmp: Path) -> dict[str, str]:
    env = dict(os.environ, TWILIO_AUTH_TOKEN=TOKEN, IVR_CLOCK=CLOCK,
               IVR_EMERGENCY_NUMBER="+15559990000", IVR_FLOWS_DIR=str(flows),
               IVR_SPOOL_DIR=str(tmp / "spool"), PYTHONPATH=str(ROOT),
               IVR_JOBS_REDIS_URL=conf["jobs_redis_url"])
    for name in ("REDIS_URL", "IVR_CONFIG", "IVR_REDIS_URL"):
        env.pop(name, None)
    if conf.get("redis_cluster"):
        env.update(IVR_REDIS_CLUSTER="true",
                   IVR_REDIS_CLUSTER_NODES=",".join(conf["redis_cluster_nodes"]))
    else:
        env["IVR_REDIS_URL"] = conf["redis_url"]
    return env


def through_gunicorn(confs: dict[str, dict[str, Any]], flows: Path, tmp: Path,
                     calls: int, threads: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, conf in confs.items():
        env = env_of(conf, flows, tmp)
        port, cmd = serve("ivr.app:create_app()", env, ROOT)
        with process(cmd, env, ROOT):
            wait_until(lambda p=port: _up(p), timeout=30)
            out[name] = report(f"gunicorn, {name}", load(port, "card-services", "1",
                                                          calls, threads))
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the comparison; print it and return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--inprocess-calls", type=int, default=400)
    args = ap.parse_args(argv)
    missing = missing_binaries()
    if missing:
        raise SystemExit(f"bench.cluster needs Debian's {', '.join(missing)}")
    tmp = Path(tempfile.mkdtemp(prefix="ivr-cluster-bench-"))
    flows = tmp / "flows"
    flows.mkdir()
    (flows / "card-services.yaml").write_text((ROOT / "flows/card-services.yaml").read_text())
    cluster = Cluster(tmp / "cluster")
    single, single_url = plain_redis(tmp / "single")
    jobs, jobs_url = plain_redis(tmp / "jobs")
    try:
        cluster.up()
        print(f"cluster bench: card-services, start + menu press; cluster {cluster.nodes} "
              f"vs one Redis ({single_url}); jobs on {jobs_url} for both")
        confs = settings(single_url, cluster, jobs_url)
        inproc = in_process(confs, flows, tmp, args.inprocess_calls)
        r_in = ratio("in process cluster/single", inproc["cluster"], inproc["single"], TARGET)
        http = through_gunicorn(confs, flows, tmp, args.calls, args.threads)
        r_http = ratio("gunicorn cluster/single  ", http["cluster"], http["single"], TARGET)
        keys = sum(redis.Redis(port=p).dbsize() for p in cluster.ports)
    finally:
        cluster.close()
        single.close()
        jobs.close()
    return {"calls": args.calls, "threads": args.threads,
            "inprocess_calls": args.inprocess_calls, "in_process_ms": inproc,
            "ratio_in_process": r_in, "gunicorn_ms": http, "ratio_gunicorn": r_http,
            "cluster_keys_after": keys, "target_ratio_p50": TARGET}


if __name__ == "__main__":
    main()
