"""``ivr validate --explore``: the engine checked exhaustively, not sampled.

:func:`explore` runs the real ``step()`` breadth-first over every reachable configuration
of a flow (:mod:`ivr.qa.explore.search`) × clock class (:mod:`ivr.qa.explore.clock`),
applying every input that can arrive at each moment (:mod:`ivr.qa.explore.alphabet`), and
checks the promise on every turn (:mod:`ivr.qa.explore.checks`, codes IVR601-IVR608):

- IVR601 (a) a human key or phrase reaches a person within one turn (voicemail with a
  callback when closed or when nobody answered);
- IVR602 (b) a call ends only after a goodbye state, the caller's hang-up, a saved
  recording, a promised callback or a connected person;
- IVR603 (c) any run of silence or garbage reaches a person within the flow's retry bound
  (:mod:`ivr.qa.explore.confusion`);
- IVR604 (d) every TwiML document is well-formed and every Gather is followed by its
  no-input Redirect (or, falling through, by a Record);
- IVR605 (e) nobody hears "your message is saved" unless a recording with a duration
  above zero arrived;
- IVR606 the engine raised; IVR607 the exploration stopped at the configuration limit;
  IVR608 a report of the person's phone (a ``leg`` input) changed what the caller hears.

Each problem carries a shortest counterexample as a transcript for ``ivr replay``
(:mod:`ivr.qa.explore.report`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.machine import Compiled
from ivr.flowlang.positions import Source
from ivr.qa.explore import checks, confusion, report
from ivr.qa.explore.alphabet import Alphabet, Input, Waiting, alphabet
from ivr.qa.explore.clock import clock_classes
from ivr.qa.explore.report import Finding
from ivr.qa.explore.search import IGNORED, StepFn, configuration, search
from ivr.runtime import engine

DEFAULT_LIMIT = 100_000
"""Configurations explored at most (a 1,000-state flow has about 12,000)."""
CODES = checks.CODES

__all__ = ["CODES", "DEFAULT_LIMIT", "IGNORED", "Alphabet", "Finding", "Input", "Report",
           "Waiting", "alphabet", "configuration", "explore"]


@dataclass
class Report:
    """What exploring one flow found."""

    flow: str
    configurations: int
    transitions: int
    seconds: float
    findings: list[Finding] = field(default_factory=list)
    complete: bool = True
    clocks: dict[str, datetime] = field(default_factory=dict)

    @property
    def problems(self) -> list[Problem]:
        return [f.problem for f in self.findings]

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self, file: str = "") -> str:
        """``flows/x.yaml: 1,234 configurations, 5,678 transitions in 0.42 s``."""
        where = file or self.flow
        cut = "" if self.complete else " (incomplete: --explore-limit)"
        return (f"{where}: {self.configurations:,} configurations, {self.transitions:,} "
                f"transitions in {self.seconds:.2f} s{cut}")


def explore(c: Compiled, source: Source | None = None, *, step: StepFn | None = None,
            limit: int = DEFAULT_LIMIT, inputs: Alphabet = alphabet,
            ticks: bool | None = None, clocks: Mapping[str, datetime] | None = None) -> Report:
    """Explore flow ``c`` exhaustively and check the promise on every turn.

    Args:
        c: The compiled flow.
        source: Its loaded file, for file:line positions (None: no positions).
        step: The engine (default :func:`ivr.runtime.engine.step`, looked up at each call;
            inject a broken one to test the checker).
        limit: Stop after this many configurations (an IVR607 problem says so).
        inputs: The input alphabet (:func:`ivr.qa.explore.alphabet.alphabet`).
        ticks: Apply queue ticks while the caller is in a queue (waiting is an engine
            state). Default: yes for the engine; no for an injected ``step``.
        clocks: Clock class → moment (default :func:`clock_classes` of the flow's hours).
    """
    began = time.perf_counter()
    if ticks is None:
        ticks = step is None
    step = step or engine.step
    moments = dict(clocks) if clocks is not None else clock_classes(c.flow)
    s = search(c, step, inputs, ticks, limit, moments)
    bound = confusion.retry_bound(c.flow)
    found = report.findings(s, [*s.violations, *confusion.violations(s, bound)], c.flow,
                            source, bound)
    if not s.complete:
        found.append(report.limit_finding(c.flow, source, limit))
    found.sort(key=lambda f: f.problem.sort_key())
    return Report(c.flow.id, len(s.nodes), s.transitions, time.perf_counter() - began,
                  found, s.complete, moments)
