"""Invariant (c): any run of silence or garbage reaches a person within the retry bound.

The silence/garbage turns the search recorded form a graph over configurations. For each
configuration, :func:`longest` is the most such turns a caller can take before a person is
rung, they are in line or recording a voicemail (infinite when a run loops, or ends the
call first). The bound is the flow's own: the most silences and misses any one prompt
allows before it gives up, plus one turn, plus one more when the flow has a capture state
(an unclear sentence can be taken as "something else" and asked "why are you calling?").
"""

from __future__ import annotations

import math

from ivr.flowlang.model import Flow, Kind
from ivr.qa.explore.checks import CONFUSION_LOOP, reached
from ivr.qa.explore.search import Edge, Search, Violation

INF = math.inf


def retry_bound(flow: Flow) -> int:
    """The most silence/garbage turns before a person, as the flow's retries promise."""
    waits = [s.retries.no_input + s.retries.no_match + 1 for s in flow.states.values()
             if s.kind in (Kind.MENU, Kind.COLLECT)]
    capture = any(s.kind is Kind.CAPTURE for s in flow.states.values())
    return max(waits, default=1) + (1 if capture else 0)


def _base(s: Search, n: int) -> float | None:
    if reached(s.nodes[n].wait) or n not in s.edges:
        return 0.0
    return None


def _value(e: Edge, memo: dict[int, float], on_stack: set[int]) -> float | None:
    if e.person or e.dest == -2:  # -2: beyond --explore-limit, unknown
        return 1.0
    if e.dest == -1 or e.dest in on_stack:
        return INF
    if e.dest in memo:
        return 1.0 + memo[e.dest]
    return None


def longest(s: Search) -> dict[int, float]:
    """Configuration → the most silence/garbage turns before a person (INF: never)."""
    memo: dict[int, float] = {}
    for root in s.edges:
        if root in memo:
            continue
        base = _base(s, root)
        if base is not None:
            memo[root] = base
            continue
        stack: list[list[float]] = [[root, 0, 0.0]]  # node, next edge, best so far
        on_stack = {root}
        while stack:
            frame = stack[-1]
            n, i = int(frame[0]), int(frame[1])
            edges = s.edges[n]
            if i == len(edges):
                memo[n] = frame[2]
                on_stack.discard(n)
                stack.pop()
                continue
            e = edges[i]
            v = _value(e, memo, on_stack)
            if v is None:
                base = _base(s, e.dest)
                if base is None:
                    stack.append([e.dest, 0, 0.0])
                    on_stack.add(e.dest)
                    continue
                memo[e.dest] = base
                v = 1.0 + base
            frame[2] = max(frame[2], v)
            frame[1] = i + 1
    return memo


def violations(s: Search, bound: int) -> list[Violation]:
    """One violation per state: the configuration nearest the start whose run breaks."""
    memo = longest(s)
    worst: dict[str, int] = {}
    count: dict[str, int] = {}
    for n in s.edges:
        if memo.get(n, 0.0) <= bound or reached(s.nodes[n].wait):
            continue
        state = s.nodes[n].call.state
        count[state] = count.get(state, 0) + 1
        if state not in worst or s.nodes[n].depth < s.nodes[worst[state]].depth:
            worst[state] = n
    out = []
    for state, n in worst.items():
        run = _run(s, n, memo, bound)
        last = run[-1]
        if last.dest == -1 and not last.person:
            detail = "end the call without a person"
        elif memo[n] == INF:
            detail = "loop without reaching a person"
        else:
            detail = f"still have not reached a person ({int(memo[n])} turns are needed)"
        node = s.nodes[n]
        out.append(Violation(CONFUSION_LOOP, n, None, detail, state, node.clock, last.state,
                             last.says, last.verb, run, count[state]))
    return out


def _run(s: Search, n: int, memo: dict[int, float], bound: int) -> list[Edge]:
    """The worst silence/garbage turns from ``n``: until the call ends, or bound + 1."""
    run: list[Edge] = []
    cur = n
    while len(run) <= bound and cur in s.edges:
        e = max(s.edges[cur], key=lambda e: _value(e, memo, set()) or 1.0)
        run.append(e)
        if e.person or e.dest < 0 or reached(s.nodes[e.dest].wait):
            break
        cur = e.dest
    return run
