"""Flow load + check + compile time against flow size: is it linear?

Run ``python -m bench.compile`` (or ``python bench/compile.py``; ``--sizes 10,100``,
``--runs 5``). Each size is a generated YAML text of that many states (menus with four
intents and ``other``, announcements, digit entries, all wired so the flow is valid). The
table shows the best of ``--runs`` runs for each phase, the total, microseconds per state
and the per-state cost relative to the smallest size: a ratio that stays near 1 means
linear growth; a ratio that grows with size means something is super-linear.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ivr.flowlang.checks.rules import check  # noqa: E402
from ivr.flowlang.machine import compile_flow  # noqa: E402
from ivr.flowlang.source import load  # noqa: E402

SIZES = (10, 100, 1000, 5000)


def _state(i: int, n: int) -> list[str]:
    """YAML lines of state ``s{i}``: every third a menu, then an announcement, a collect."""
    fwd = f"s{i + 1}" if i + 1 < n else "human"
    if i % 3 == 0:
        back = f"s{max(0, i - 3)}"
        return [f"  s{i}:",
                f'    ask: "Menu {i}. Press 1 to go on, 2 to go back, 3 for a person."',
                "    intents:",
                f'      forward: {{keys: ["1"], phrases: ["go on {i}"], goto: {fwd}}}',
                f'      back: {{keys: ["2"], phrases: ["go back {i}"], goto: {back}}}',
                f'      person: {{keys: ["3"], phrases: ["a person {i}"], goto: human}}',
                f'      done: {{keys: ["4"], phrases: ["all done {i}"], goto: bye}}',
                '      other: {keys: ["9"], phrases: ["something else"], goto: other}']
    if i % 3 == 1:
        return [f"  s{i}:", f'    say: "Announcement number {i}."', f"    next: {fwd}"]
    return [f"  s{i}:", f'    ask: "Enter the {i} code."',
            f"    collect: {{slot: code_{i}, min_digits: 1, max_digits: 6}}",
            f"    next: {fwd}"]


def generate(n: int) -> str:
    """A valid flow of ``n`` generated states plus 'other' and 'bye'."""
    lines = ["flow: bench", "start: s0", "human:", '  dial: "+15551230000"',
             '  keys: ["0"]', "  phrases: [agent, operator]",
             "retries: {no_input: 2, no_match: 2, then: human}", "states:"]
    for i in range(n):
        lines += _state(i, n)
    lines += ["  other:", '    capture: "Tell me why you are calling."', "    then: human",
              "  bye:", '    goodbye: "Goodbye."']
    return "\n".join(lines) + "\n"


def _best(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(n: int, runs: int) -> dict[str, float]:
    """Best-of-``runs`` seconds for load, check and compile of an ``n``-state flow."""
    text = generate(n)
    t_load, src = _best(lambda: load(text, "bench.yaml"), runs)
    t_check, (flow, problems) = _best(lambda: check(src), runs)
    assert flow is not None and not problems, problems[:3]
    t_compile, _ = _best(lambda: compile_flow(flow), runs)
    return {"states": n, "load": t_load, "check": t_check, "compile": t_compile,
            "total": t_load + t_check + t_compile}


def table(rows: list[dict[str, float]]) -> str:
    """The results as a fixed-width text table."""
    head = (f"{'states':>7} {'load ms':>9} {'check ms':>9} {'compile ms':>11} "
            f"{'total ms':>9} {'us/state':>9} {'ratio':>6}")
    out = [head, "-" * len(head)]
    base = rows[0]["total"] / rows[0]["states"]
    for r in rows:
        per = r["total"] / r["states"]
        out.append(f"{int(r['states']):>7} {r['load'] * 1e3:>9.2f} {r['check'] * 1e3:>9.2f} "
                   f"{r['compile'] * 1e3:>11.2f} {r['total'] * 1e3:>9.2f} "
                   f"{per * 1e6:>9.1f} {per / base:>6.2f}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, measure each size, print the table; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated state counts (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [measure(n, args.runs) for n in sizes]
    print(table(rows))
    print("ratio = (us/state) / (us/state at the smallest size); ~1 means linear growth")
    base = rows[0]["total"] / rows[0]["states"]
    return {"runs": args.runs, "sizes": [
        {**r, "us_per_state": r["total"] / r["states"] * 1e6,
         "ratio": r["total"] / r["states"] / base} for r in rows]}


if __name__ == "__main__":
    main()
