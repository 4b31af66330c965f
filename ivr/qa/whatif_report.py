"""The what-if report as a table (the default), JSON (``--json``) or HTML (``--html``).

The HTML page (:func:`html`) is one self-contained file: inline CSS bars, no script, no
font or library from anywhere, every text escaped by Jinja2's autoescape. It shows per
flow where the callers landed, who zeroed out and where, who was asked to confirm, what
landed in ``other`` grouped by meaning, and (with ``--against``) which callers move.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import resources

from jinja2 import Environment, select_autoescape

from ivr.qa.whatif import ENDED, ERROR, HANG_UP, PERSON, UNFINISHED, VOICE_MAIL, FlowReport, Run

BAR = 28
"""Characters of the widest bar in the table."""


def _pct(n: int, total: int) -> str:
    return f"{100 * n / max(1, total):.0f}%"


def _bars(counts: Mapping[str, int], total: int, indent: str = "    ") -> list[str]:
    if not counts:
        return [f"{indent}(none)"]
    width = max(len(k) for k in counts)
    top = max(counts.values())
    return [f"{indent}{k.ljust(width)}  {n:>5}  {_pct(n, total):>4}  "
            f"{'█' * max(1, round(BAR * n / top))}" for k, n in counts.items()]


def _by_state(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in counts.items()) or "none"


def table(run: Run) -> str:
    """The plain-text report, one block per flow."""
    out: list[str] = []
    for r in run.reports:
        n = len(r.calls)
        out += [f"what-if: {r.flow} (version {r.version}), {n} call(s)", "  landed:"]
        out += _bars(r.landed, n)
        out.append("  menu choices (calls that made each):")
        out += _bars(r.choices, n)
        out.append(f"  zeroed out: {r.zeroed_total} ({_pct(r.zeroed_total, n)}): "
                   f"{_by_state(r.zeroed)}")
        out.append(f"  asked to confirm: {r.confirm_total} ({_pct(r.confirm_total, n)}): "
                   f"{_by_state(r.confirm)}")
        out.append(f"  outcomes: {_by_state(r.outcomes)}")
        out.append("  landed in other, grouped by meaning:" if r.other else
                   "  landed in other: nothing said (or nobody)")
        for g in r.other:
            more = [e for e in g.examples if e != g.phrase]
            out.append(f"    {g.count:>4}  {g.phrase!r}" + (
                f"  (also: {', '.join(repr(e) for e in more)})" if more else ""))
        out += _errors(r)
        out += _against(r)
        out.append("")
    out += [f"not loaded: {e}" for e in run.errors]
    return "\n".join(out).rstrip("\n") + "\n"


def _errors(r: FlowReport) -> list[str]:
    return [f"  engine error in {c.file} at {c.at}: {c.error}" for c in r.calls if c.error]


def _against(r: FlowReport) -> list[str]:
    a = r.against
    if a is None:
        return []
    moved = sum(len(m.files) for m in a.moves)
    out = [f"  against {a.flow} (version {a.version}, {a.source}): {moved} of "
           f"{len(r.calls)} call(s) move"]
    for m in a.moves:
        out.append(f"    {m.before} -> {m.after}: {len(m.files)}  ({', '.join(m.files[:5])}"
                   f"{', ...' if len(m.files) > 5 else ''})")
    out.append("    landed there:")
    out += _bars(a.landed, len(r.calls), "      ")
    return out


def as_json(run: Run) -> str:
    """``--json``: the reports (with every call) and the load errors."""
    return json.dumps({"flows": [r.as_json() for r in run.reports], "errors": run.errors},
                      indent=2)


_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


def _template() -> str:
    return resources.files("ivr.qa").joinpath("templates/whatif.html").read_text("utf-8")


_KINDS = {"other": "other", PERSON: "person", VOICE_MAIL: "voicemail", HANG_UP: "hangup",
          ENDED: "ended", UNFINISHED: "unfinished", ERROR: "error"}


def _rows(counts: Mapping[str, int], total: int) -> list[dict[str, object]]:
    """Bar rows: label, count, share, bar width (% of the biggest) and its colour class."""
    top = max(counts.values(), default=1)
    return [{"label": k, "count": n, "pct": _pct(n, total), "width": round(100 * n / top, 1),
             "kind": _KINDS.get(k, "intent")} for k, n in counts.items()]


def _side_by_side(before: Mapping[str, int], after: Mapping[str, int],
                  total: int) -> list[dict[str, object]]:
    """One row per landing of either version: both counts and both bar widths."""
    top = max([*before.values(), *after.values(), 1])
    labels = [*before, *(k for k in after if k not in before)]
    return [{"label": k, "kind": _KINDS.get(k, "intent"), "before": before.get(k, 0),
             "after": after.get(k, 0), "wb": round(100 * before.get(k, 0) / top, 1),
             "wa": round(100 * after.get(k, 0) / top, 1)} for k in labels]


def html(run: Run, title: str = "What if these callers had called this flow?",
         now: datetime | None = None) -> str:
    """The self-contained HTML report."""
    flows = []
    for r in run.reports:
        n = len(r.calls)
        a = r.against
        flows.append({
            "r": r, "n": n, "landed": _rows(r.landed, n), "zeroed": _rows(r.zeroed, n),
            "choices": _rows(r.choices, n),
            "confirm": _rows(r.confirm, n), "outcomes": _rows(r.outcomes, n),
            "zeroed_pct": _pct(r.zeroed_total, n), "confirm_pct": _pct(r.confirm_total, n),
            "other": [asdict(g) | {"width": round(100 * g.count / r.other[0].count, 1)}
                      for g in r.other],
            "errors": [c for c in r.calls if c.error],
            "against": a, "moved": sum(len(m.files) for m in a.moves) if a else 0,
            "side": _side_by_side(r.landed, a.landed, n) if a else [],
            "moves": [{"m": m, "width": round(100 * len(m.files) / len(a.moves[0].files), 1)}
                      for m in a.moves] if a and a.moves else []})
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return _ENV.from_string(_template()).render(title=title, flows=flows, errors=run.errors,
                                                when=when)

