"""Run every benchmark with modest sizes and write each one's figures as JSON.

``python -m bench`` (or ``make bench``): compile, intents, replay, webhook, calls, explore,
archive, whatif, console, console_metrics, cluster, semantic, in that order; each prints its
own table and its figures go to ``bench/results/<name>.json`` with the date, the machine and
the arguments used.
``python -m bench webhook calls`` runs only those. See docs/performance.md for what each
one measures and the targets.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"


def _suite() -> dict[str, tuple[Callable[[list[str]], Any], list[str]]]:
    from bench import (
        archive,
        calls,
        cluster,
        compile,
        console,
        explore,
        intents,
        replay,
        webhook,
        whatif,
    )

    return {
        "compile": (compile.main, ["--sizes", "10,100,1000,5000", "--runs", "3"]),
        "intents": (intents.run, []),
        "replay": (replay.main, ["--seconds", "3"]),
        "webhook": (webhook.main, ["--calls", "400", "--threads", "4"]),
        "calls": (calls.main, ["--levels", "100,1000,10000", "--turns", "300"]),
        "explore": (explore.main, ["--states", "1000"]),
        "archive": (archive.main, ["--calls", "300", "--turns", "8", "--workers", "1,2"]),
        "whatif": (whatif.main, ["--calls", "1000"]),
        "console": (console.main, ["--calls", "10000", "--days", "30", "--runs", "5"]),
        "console_metrics": (_console_metrics, ["--calls", "10000", "--pg"]),
        "cluster": (cluster.main, ["--calls", "300", "--threads", "4"]),
        "semantic": (_semantic, []),
    }


def _console_metrics(args: list[str]) -> Any:
    from bench import console_metrics

    return console_metrics.main(args)


def _semantic(args: list[str]) -> Any:
    """bench/semantic.py, skipped (with the reason) without ``ivr[semantic]`` installed."""
    try:
        from bench import semantic
        from ivr.semantic import ModelUnavailable
    except ImportError as exc:
        print(f"skipped: {exc} (pip install 'ivr[semantic]')")
        return {"skipped": str(exc)}
    try:
        return semantic.run(args)
    except ModelUnavailable as exc:
        print(f"skipped: {exc}")
        return {"skipped": str(exc)}


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    suite = _suite()
    names = (argv if argv is not None else sys.argv[1:]) or list(suite)
    unknown = [n for n in names if n not in suite]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(suite)}",
              file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in names:
        func, args = suite[name]
        print(f"\n=== {name} ({' '.join(args) or 'defaults'}) ===", flush=True)
        began = time.perf_counter()
        figures = func(args)
        took = time.perf_counter() - began
        doc = {"benchmark": name, "args": args,
               "date": datetime.now(UTC).isoformat(timespec="seconds"),
               "machine": machine(), "seconds": round(took, 1), "results": figures}
        out = RESULTS / f"{name}.json"
        out.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
        print(f"-> {out.relative_to(ROOT)} ({took:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
