"""Charts as inline SVG, drawn on the server: stacked bars and lines over time buckets.

No JavaScript and nothing fetched: the page carries the drawing. Every bar and point has a
``<title>`` (the browser's hover text) with its bucket and numbers; axes have ticks and
labels. Colours come from CSS classes (``static/ops/trends.css``), so the SVG carries no
style of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

W, H = 480, 230
LEFT, RIGHT, TOP, BOTTOM = 50, 10, 12, 44
MAX_XLABELS = 5


@dataclass(frozen=True)
class Series:
    """One named row of values (None: no value in that bucket); ``cls`` is its CSS class."""

    name: str
    cls: str
    values: Sequence[float | None]


def nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def whole_max(value: float) -> float:
    """An axis maximum for counts: four whole-number steps of 1, 2, 5 (or 25) × 10^k."""
    need = max(1.0, value / 4)
    power = 10 ** math.floor(math.log10(need))
    steps = (1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)
    step = next(s * power for s in steps if need <= s * power)
    return float(4 * step)


SECONDS = (60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400, 28800, 86400)


def nice_seconds(value: float) -> float:
    """A time axis maximum: 1, 2, 5, 10, 15, 20, 30 minutes, 1, 2, 4, 8, 24 hours."""
    return float(next((s for s in SECONDS if value <= s), math.ceil(value / 86400) * 86400))


def _num(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _frame(labels: Sequence[str], top: float, fmt: Callable[[float], str], title: str,
           unit_label: str) -> list[str]:
    """The axes: y ticks and grid lines, x labels (at most :data:`MAX_XLABELS`; a label's
    short form is what follows its last "|", the hover titles use the part before)."""
    return _axes([label.rsplit("|", 1)[-1] for label in labels], top, fmt, title, unit_label)


def _tip(label: str) -> str:
    return label.split("|", 1)[0]


def _axes(labels: Sequence[str], top: float, fmt: Callable[[float], str], title: str,
          unit_label: str) -> list[str]:
    inner_h = H - TOP - BOTTOM
    out = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
           f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
           f"<title>{escape(title)}</title>"]
    for i in range(5):
        value = top * i / 4
        y = TOP + inner_h - inner_h * i / 4
        out.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" '
                   f'y2="{y:.1f}"/><text class="tick y" x="{LEFT - 6}" y="{y + 4:.1f}">'
                   f"{escape(fmt(value))}</text>")
    band = (W - LEFT - RIGHT) / max(1, len(labels))
    every = max(1, math.ceil(len(labels) / MAX_XLABELS))
    for i, label in enumerate(labels):
        if i % every == 0:
            x = LEFT + band * (i + 0.5)
            out.append(f'<text class="tick x" x="{x:.1f}" y="{H - BOTTOM + 20}">'
                       f"{escape(label)}</text>")
    out.append(f'<text class="axis-label" x="{W - RIGHT}" y="{H - 4}">'
               f"{escape(unit_label)}</text>")
    out.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{TOP + inner_h}" '
               f'y2="{TOP + inner_h}"/>')
    return out


def stacked_bars(labels: Sequence[str], series: Sequence[Series], title: str,
                 unit_label: str) -> Markup:
    """Bars per bucket, one segment per series (counts), each with a hover title."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top = whole_max(max(totals, default=0))
    out = _frame(labels, top, _num, title, unit_label)
    inner_h = H - TOP - BOTTOM
    band = (W - LEFT - RIGHT) / max(1, len(labels))
    gap = min(6.0, band * 0.2)
    for i, label in enumerate(labels):
        y = float(TOP + inner_h)
        parts = ", ".join(f"{_num(s.values[i] or 0)} {s.name}" for s in series
                          if s.values[i])
        tip = f"{_tip(label)}: {_num(totals[i])} calls" + (f" ({parts})" if parts else "")
        out.append(f'<g class="bar" data-i="{i}"><title>{escape(tip)}</title>')
        out.append(f'<rect class="hit" x="{LEFT + band * i:.1f}" y="{TOP}" '
                   f'width="{band:.1f}" height="{inner_h}"/>')
        for s in series:
            h = inner_h * (s.values[i] or 0) / top
            if h <= 0:
                continue
            y -= h
            out.append(f'<rect class="{escape(s.cls)}" x="{LEFT + band * i + gap / 2:.1f}" '
                       f'y="{y:.1f}" width="{band - gap:.1f}" height="{h:.1f}"/>')
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def lines(labels: Sequence[str], series: Sequence[Series], title: str, unit_label: str,
          top: float | None = None, fmt: Callable[[float], str] = _num,
          floor: float = 0.0) -> Markup:
    """A line per series over the buckets (gaps where a value is None), with points
    that carry hover titles; the y axis reaches at least ``floor``."""
    values = [v for s in series for v in s.values if v is not None]
    top = top or nice_max(max([*values, floor]))
    out = _frame(labels, top, fmt, title, unit_label)
    inner_h = H - TOP - BOTTOM
    band = (W - LEFT - RIGHT) / max(1, len(labels))
    for s in series:
        points = [(LEFT + band * (i + 0.5), TOP + inner_h - inner_h * min(v, top) / top, v, i)
                  for i, v in enumerate(s.values) if v is not None]
        for run in _runs(points):
            if len(run) > 1:
                d = " ".join(f"{x:.1f},{y:.1f}" for x, y, _v, _i in run)
                out.append(f'<polyline class="line {escape(s.cls)}" points="{d}"/>')
        for x, y, v, i in points:
            tip = f"{_tip(labels[i])}: {s.name} {fmt(v)}"
            out.append(f'<circle class="pt {escape(s.cls)}" cx="{x:.1f}" cy="{y:.1f}" r="3.5">'
                       f"<title>{escape(tip)}</title></circle>")
    out.append("</svg>")
    return Markup("".join(out))


def _runs(points: list[tuple[float, float, float, int]]
          ) -> list[list[tuple[float, float, float, int]]]:
    """Consecutive buckets with a value (a bucket without calls breaks the line)."""
    runs: list[list[tuple[float, float, float, int]]] = []
    for p in points:
        if runs and runs[-1][-1][3] == p[3] - 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def percent(value: float) -> str:
    return f"{value:.0f}%"


def clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    s = int(round(seconds))
    h, rest = divmod(max(0, s), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"
