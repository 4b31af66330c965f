"""Import + what-if throughput: 1,000 recorded calls → transcripts → a what-if report.

Run ``python bench/whatif.py`` (``--calls N``, ``--seed S``). It writes N speaker-labelled
text calls to a temporary directory (a mix: lost cards, found cards, balances with a PIN,
payments, callers who ask for an agent, callers who say things no menu knows, silence),
then times, in this process, ``ivr import`` (read, build, redact, write YAML) and
``ivr replay --what-if`` (load each transcript, drive ``ivr.runtime.engine.step`` directly:
no Redis, no HTTP; summarise and group "other"). Target: 1,000 calls/s for the two
together on 2 cores (one process). The files live in ``/dev/shm`` when it exists.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.qa import whatif  # noqa: E402
from ivr.qa.importers import Options, import_paths  # noqa: E402
from ivr.qa.replay import catalog_for, transcript_files  # noqa: E402

FLOWS = (str(ROOT / "flows"),)
CLOCK = "2026-11-20T14:05:00-05:00"
TARGET = 1_000
RAM = "/dev/shm"
"""The files go to RAM when there is one: a shared machine's disk (0.5-1 ms to create a
file under load, measured) is not what this measures."""
_GREETING = "IVR: Welcome to Acme card services. Tell me what you're calling about."
_CALLS = [
    ["Caller: I lost my card", "IVR: Please enter the last four digits.", "Caller: [DTMF 1234]",
     "Agent: Hi, this is Sam."],
    ["Caller: um I found somebody's card on the street", "IVR: Sorry?", "Caller: agent",
     "Agent: Hello, how can I help?"],
    ["Caller: what's my balance", "IVR: Please enter your PIN.", "Caller: [DTMF 54321]",
     "IVR: Sent. Press 3 if you're all set.", "Caller: [DTMF 3]"],
    ["Caller: I want to make a payment", "IVR: Full or minimum?", "Caller: the full amount"],
    ["Caller: representative", "Agent: Thanks for holding."],
    ["Caller: I want to change my address", "IVR: Sorry, say that again.",
     "Caller: change my mailing address please", "Agent: Address changes, this is Kim."],
    ["Caller: [DTMF 4]", "IVR: Enter the amount.", "Caller: [DTMF 250#]",
     "Agent: Disputes, this is Lee."],
    ["Caller: do you have a branch near me", "IVR: Sorry?",
     "Caller: where is the nearest branch"],
    ["Caller: someone stole my wallet", "IVR: Say the last four digits.",
     "Caller: one two three four"],
    ["Caller: I'd like to activate my new card", "IVR: Enter the last four digits.",
     "Caller: [DTMF 9876]", "IVR: Active. Press 2 if you're all set.", "Caller: [DTMF 2]"],
]


_OPENERS = ["", "hi ", "yes hello ", "um ", "okay so ", "good morning ", "hey ", "right, "]
_CLOSERS = ["", " please", " thanks", " today", " if you can", " as soon as possible",
            " for my husband", " for my mother", " from this morning", " I think"]


def _vary(line: str, rnd: random.Random) -> str:
    """A caller's line said a little differently each time (so few are said twice)."""
    label, _, words = line.partition(": ")
    if label != "Caller" or words.startswith("[") or len(words.split()) < 2:
        return line
    return f"{label}: {rnd.choice(_OPENERS)}{words}{rnd.choice(_CLOSERS)}"


def write_calls(folder: Path, n: int, seed: int) -> None:
    rnd = random.Random(seed)
    for i in range(n):
        lines = [_GREETING, *(_vary(line, rnd) for line in rnd.choice(_CALLS))]
        (folder / f"call-{i:05d}.txt").write_text("\n".join(lines) + "\n")


def run(n: int, seed: int, jobs: int = 1) -> dict[str, Any]:
    catalog_for(FLOWS)
    with tempfile.TemporaryDirectory(dir=RAM if os.path.isdir(RAM) else None) as tmp:
        src, out = Path(tmp) / "calls", Path(tmp) / "imported"
        src.mkdir()
        write_calls(src, n, seed)
        began, cpu = time.perf_counter(), time.process_time()
        report = import_paths([str(src)], str(out), Options("card-services", clock=CLOCK),
                              jobs)
        imported = time.perf_counter()
        result = whatif.run_paths(transcript_files([str(out)]), FLOWS, jobs=jobs)
        done, cpu = time.perf_counter(), time.process_time() - cpu
    assert not report.errors and len(report.written) == n, report.errors[:3]
    assert not result.errors and sum(len(r.calls) for r in result.reports) == n
    total = done - began
    return {"calls": n, "jobs": jobs, "import_s": round(imported - began, 3),
            "whatif_s": round(done - imported, 3), "calls_per_s": round(n / total),
            "import_calls_per_s": round(n / (imported - began)),
            "whatif_calls_per_s": round(n / (done - imported)),
            "landed": result.reports[0].landed,
            "cpu_calls_per_s": round(n / cpu) if jobs == 1 else None, "target_calls_per_s": TARGET}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--jobs", default="1,2", help="process counts to try (comma-separated)")
    args = ap.parse_args(argv)
    run(100, args.seed)  # warm: compile the flow, the matcher's caches
    figures = {}
    for jobs in (int(j) for j in args.jobs.split(",")):
        fig = figures[f"jobs_{jobs}"] = run(args.calls, args.seed, jobs)
        print(f"{fig['calls']} calls, {jobs} process(es): import {fig['import_s']} s "
              f"({fig['import_calls_per_s']} calls/s), what-if {fig['whatif_s']} s "
              f"({fig['whatif_calls_per_s']} calls/s); together {fig['calls_per_s']} "
              f"calls/s (target {TARGET})" + (f"; {fig['cpu_calls_per_s']} calls per CPU "
                                               "second" if jobs == 1 else ""))
    print("landed: " + ", ".join(f"{k} {v}" for k, v in fig["landed"].items()))
    return figures


if __name__ == "__main__":
    main()
