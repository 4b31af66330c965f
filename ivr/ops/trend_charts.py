"""The metrics page's charts for one flow (:class:`ivr.ops.trends.Trend` → inline SVG)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from markupsafe import Markup

from ivr.ops import charts
from ivr.ops.charts import Series
from ivr.ops.trends import Trend

OUTCOME_SERIES = (("completed", "self-served", "c-completed"), ("human", "a person", "c-human"),
                  ("other", '"other"', "c-other"), ("voicemail", "voicemail", "c-voicemail"),
                  ("hangup", "hung up", "c-hangup"), ("rest", "ended otherwise", "c-rest"))


@dataclass
class Panel:
    """What the metrics page shows of one flow: the trend and its three charts."""

    trend: Trend
    calls: Markup
    rates: Markup
    to_person: Markup
    median_to_person: str
    p90_to_person: str


def panel(t: Trend) -> Panel:
    """The charts of ``t``: calls by outcome, rates, time to a person."""
    labels = [b.label for b in t.buckets]
    unit = t.zone_label
    calls = charts.stacked_bars(
        labels, [Series(name, cls, [b.outcomes[key] for b in t.buckets])
                 for key, name, cls in OUTCOME_SERIES
                 if key != "rest" or any(b.outcomes["rest"] for b in t.buckets)],
        f"{t.flow}: calls per {t.unit} by outcome", unit)
    rates = charts.lines(labels, [
        Series("containment", "c-completed", [b.rate(b.outcomes["completed"])
                                              for b in t.buckets]),
        Series('"other" rate', "c-other", [b.rate(b.outcomes["other"]) for b in t.buckets]),
        Series("zero-outs", "c-zero", [b.rate(b.zero_outs) for b in t.buckets]),
    ], f"{t.flow}: containment, other rate and zero-outs per {t.unit} (% of calls)", unit,
        top=100.0, fmt=charts.percent)
    medians = [b.median_to_person for b in t.buckets]
    person = charts.lines(
        labels, [Series("median time to a person", "c-human", medians)],
        f"{t.flow}: median time from the start of the call until a person answered (or, "
        f"queued, joined the queue), per {t.unit}", unit, fmt=charts.clock,
        top=charts.nice_seconds(max([m for m in medians if m is not None], default=0)))
    times = t.person_times()
    median = charts.clock(statistics.median(times)) if times else "–"
    p90 = charts.clock(times[min(len(times) - 1, int(0.9 * len(times)))]) if times else "–"
    return Panel(t, calls, rates, person, median, p90)
