"""``ivr validate --explore`` time: each shipped flow, and a generated 1,000-state flow.

Run ``python -m bench.explore`` (``--states 1000``, ``--flows flows``). For each flow it
explores every reachable configuration with the real engine and prints configurations,
transitions (engine steps), problems found, wall seconds and CPU seconds (the machine may
be shared: CPU seconds are what the explorer itself cost), and transitions per CPU second.
Targets: under 5 s per shipped flow, under 60 s for the 1,000-state flow. The generated
flow is :func:`bench.compile.generate` (menus with four intents and ``other``,
announcements, digit entries; no hours, so one clock class).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.compile import generate  # noqa: E402
from ivr.flowlang.catalog import Checked, check_file, check_text, flow_files  # noqa: E402
from ivr.flowlang.machine import compiled  # noqa: E402
from ivr.qa.explore import explore  # noqa: E402

SHIPPED_TARGET = 5.0
GENERATED_TARGET = 60.0


def measure(name: str, checked: Checked, target: float, limit: int) -> dict[str, Any]:
    """Explore one checked flow; its figures."""
    assert checked.flow is not None and checked.ok(), checked.problems[:3]
    c = compiled(checked.flow)
    cpu = time.process_time()
    report = explore(c, checked.source, limit=limit)
    cpu = time.process_time() - cpu
    return {"flow": name, "states": len(c.flow.states), "clocks": list(report.clocks),
            "configurations": report.configurations, "transitions": report.transitions,
            "complete": report.complete, "problems": [
                f"{f.problem.code} {f.problem.path}" for f in report.findings],
            "seconds": report.seconds, "cpu_seconds": cpu,
            "transitions_per_cpu_second": report.transitions / max(cpu, 1e-9),
            "target_seconds": target, "within_target": report.seconds < target}


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'flow':<24} {'states':>6} {'configs':>8} {'transitions':>11} "
            f"{'problems':>8} {'wall s':>7} {'cpu s':>7} {'steps/cpu s':>11} {'target':>7}")
    out = [head, "-" * len(head)]
    for r in rows:
        ok = "ok" if r["within_target"] else "OVER"
        out.append(f"{r['flow']:<24} {r['states']:>6} {r['configurations']:>8,} "
                   f"{r['transitions']:>11,} {len(r['problems']):>8} {r['seconds']:>7.2f} "
                   f"{r['cpu_seconds']:>7.2f} {r['transitions_per_cpu_second']:>11,.0f} "
                   f"{'<' + str(int(r['target_seconds'])) + ' ' + ok:>7}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, explore each flow, print the table; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", default=str(ROOT / "flows"), help="shipped flows dir")
    parser.add_argument("--states", type=int, default=1000,
                        help="states of the generated flow (0: skip it)")
    parser.add_argument("--limit", type=int, default=1_000_000, help="--explore-limit")
    args = parser.parse_args(argv)
    rows = []
    for path in flow_files([args.flows]):
        rows.append(measure(Path(path).stem, check_file(path), SHIPPED_TARGET, args.limit))
        print(table(rows[-1:]).splitlines()[-1] if len(rows) > 1 else table(rows), flush=True)
    if args.states:
        name = f"generated-{args.states}"
        rows.append(measure(name, check_text(generate(args.states), f"{name}.yaml"),
                            GENERATED_TARGET, args.limit))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    print("problems: the engine's findings (see docs/qa.md); wall s: as timed by the "
          "explorer; cpu s: this process only")
    return {"flows": rows}


if __name__ == "__main__":
    main()
