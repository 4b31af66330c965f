"""Before / after on a noisy machine: two source trees measured side by side, interleaved.

Run: ``python -m bench.ab --base DIR [--after DIR] [--rounds 8] [--batches 21]``. ``DIR`` is
a copy of another revision (``git archive <rev> | tar -x -C DIR``); ``--after`` defaults
to this tree. Two parts, each alternating between the trees so both see the same load:

1. in process: ``python -m bench.inprocess --calls N`` run ``--rounds`` times per tree,
   alternately (the *after* tree's ``bench/inprocess.py`` is copied into ``DIR`` first,
   so both are measured the same way); medians of the rounds' figures;
2. through gunicorn: both trees' apps and the bare Flask app of :mod:`bench.webhook`
   served at the same time on one redis-server (2 sync workers each), driven in
   ``--batches`` batches of ``--calls`` calls x ``--threads`` threads in rotating order;
   p50 per turn and ours / bare per tree.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import CLOCK, TOKEN, process  # noqa: E402
from bench.webhook import BARE, _up, load, pct, post, serve  # noqa: E402
from tests.server.test_e2e import free_port, redis_server_binary, wait_until  # noqa: E402

FIGURES = {  # bench.inprocess's lines -> figure names
    r"start ([\d.]+) ms \| press ([\d.]+) ms \| floor \(raw[^)]*\) ([\d.]+) ms": (
        "start", "press", "floor"),
    r"no-op POST .* ([\d.]+) ms; .* ([\d.]+)x / ([\d.]+)x": ("noop", "start/(floor+noop)",
                                                             "press/(floor+noop)"),
    r"CPU .*start ([\d.]+) ms \| press ([\d.]+) ms \| floor ([\d.]+) ms": (
        "cpu start", "cpu press", "cpu floor"),
    r"structural floor = bare Flask no-op ([\d.]+) \+ SDK validate ([\d.]+) \+ floor [\d.]+ "
    r"= ([\d.]+) ms .* structural floor ([\d.]+)x / ([\d.]+)x": (
        "bare", "validate", "structural", "start/structural", "press/structural"),
}


def inprocess_round(tree: Path, calls: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.inprocess", "--calls", str(calls)],
                         env=dict(os.environ, PYTHONPATH=str(tree)), cwd=tree,
                         capture_output=True, text=True, check=True).stdout
    row: dict[str, float] = {}
    for pattern, names in FIGURES.items():
        if m := re.search(pattern, out):
            row.update(zip(names, map(float, m.groups()), strict=True))
    row["start/floor"], row["press/floor"] = row["start"] / row["floor"], \
        row["press"] / row["floor"]
    return row


def inprocess(trees: dict[str, Path], rounds: int, calls: int) -> None:
    mine = (trees["after"] / "bench/inprocess.py").read_bytes()
    theirs = trees["base"] / "bench/inprocess.py"
    if theirs.read_bytes() != mine:  # measure both the same way
        print(f"(copied {trees['after']}/bench/inprocess.py over {theirs})")
        theirs.write_bytes(mine)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            rows[name].append(inprocess_round(tree, calls))
    print(f"in process, medians of {rounds} alternating rounds of {calls} calls:")
    for key in rows["after"][0]:
        print(f"  {key:<20}" + "".join(
            f" {name} {statistics.median(r[key] for r in rs):7.3f}" for name, rs in rows.items()))


def gunicorn(trees: dict[str, Path], batches: int, calls: int, threads: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ivr-ab-bench-"))
    (tmp / "flows").mkdir()
    (tmp / "flows/card-services.yaml").write_text(
        (trees["after"] / "flows/card-services.yaml").read_text())
    rport = free_port()
    env = dict(os.environ, IVR_REDIS_URL=f"redis://127.0.0.1:{rport}/0",
               TWILIO_AUTH_TOKEN=TOKEN, IVR_CLOCK=CLOCK, IVR_EMERGENCY_NUMBER="+15559990000",
               IVR_FLOWS_DIR=str(tmp / "flows"), IVR_SPOOL_DIR=str(tmp / "spool"))
    with ExitStack() as stack:
        stack.enter_context(process([redis_server_binary(), "--port", str(rport), "--bind",
                                     "127.0.0.1", "--save", "", "--appendonly", "no"], env, tmp))
        wait_until(lambda: bool(redis.Redis.from_url(env["IVR_REDIS_URL"]).ping()))
        ports = {}
        for name, tree in [*trees.items(), ("bare", tmp)]:
            if name == "bare":
                _, xml = post(ports["after"], f"http://127.0.0.1:{ports['after']}/voice/"
                              "card-services", {"CallSid": "CAtemplate", "From": "+1",
                                                "To": "+1"})
                (tmp / "gather.xml").write_text(xml)
                (tmp / "bare.py").write_text(BARE.format(path=str(tmp / "gather.xml")))
            tree_env = dict(env, PYTHONPATH=str(tree))
            ports[name], cmd = serve("bare:app" if name == "bare" else "ivr.app:create_app()",
                                     tree_env, tree)
            stack.enter_context(process(cmd, tree_env, tree))
            wait_until(lambda n=name: _up(ports[n]))  # type: ignore[misc]
        lat: dict[str, dict[str, list[float]]] = {n: {"start": [], "press": []} for n in ports}
        order = list(ports)
        for b in range(batches):
            for name in order[b % 3:] + order[:b % 3]:
                got = load(ports[name], "card-services", "1", calls, threads)
                lat[name]["start"] += got["start"]
                lat[name]["press"] += got["press"]
    print(f"gunicorn, served side by side, {batches} batches of {calls} calls x {threads} "
          "threads (p50 ms; ours / bare):")
    p50 = {n: {t: pct(v[t], 50) for t in v} for n, v in lat.items()}
    for name, row in p50.items():
        vs = "" if name == "bare" else (f"  ours/bare {row['start'] / p50['bare']['start']:.2f}"
                                        f" / {row['press'] / p50['bare']['press']:.2f}")
        print(f"  {name:<6} start {row['start']:6.2f}  press {row['press']:6.2f}{vs}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="the tree before")
    ap.add_argument("--after", type=Path, default=ROOT, help="the tree after (this one)")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--inprocess-calls", type=int, default=400)
    ap.add_argument("--batches", type=int, default=21)
    ap.add_argument("--calls", type=int, default=150)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args(argv)
    trees = {"base": args.base.resolve(), "after": args.after.resolve()}
    if args.rounds:
        inprocess(trees, args.rounds, args.inprocess_calls)
    if args.batches:
        gunicorn(trees, args.batches, args.calls, args.threads)


if __name__ == "__main__":
    main()
