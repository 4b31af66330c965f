"""Violations → problems at the flow's file:line, each with a counterexample transcript.

Violations are grouped by (code, state where it broke, kind of input); each group keeps its
shortest counterexample (BFS order, so the first one found) and counts its configurations.
The counterexample is transcript YAML for ``ivr replay``: the caller's steps from the
start, an ``expect: {state: ...}`` after each, and at the last step what the call did that
broke the promise. Replay *passes* it while the problem exists (it reproduces it); once the flow
or the engine is fixed, replay fails at the step where the call now differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.machine import BUILT_IN, VOICEMAIL
from ivr.flowlang.model import Flow
from ivr.flowlang.positions import Path, Source
from ivr.qa import transcript_schema as tx
from ivr.qa.explore import checks
from ivr.qa.explore.alphabet import Input, quote
from ivr.qa.explore.search import Search, Violation

HINTS = {
    checks.HUMAN_REQUEST: "a human key or phrase must connect (Dial/Enqueue) at once; when "
                          "closed or nobody answered, voicemail with a callback",
    checks.END_WITHOUT_REASON: "end calls in a goodbye: state (or after a recording, a "
                               "callback or a person)",
    checks.CONFUSION_LOOP: "give up into a person: retries: {then: human}",
    checks.BAD_TWIML: "the engine's actions or the TwiML writer are wrong here",
    checks.SAVED_WITHOUT_RECORDING: "only say a message is saved after a voicemail state "
                                    "received a recording",
    checks.ENGINE_ERROR: "the engine must never raise: the caller would hear an error",
    checks.LIMIT: "raise --explore-limit, or split the flow",
    checks.LEG_HEARD: "a report of the person's phone is not the caller's input: the engine "
                      "must only note it (runtime/person.on_leg)",
}


@dataclass
class Finding:
    """One problem and the transcript that reproduces it."""

    problem: Problem
    transcript: str
    violation: Violation | None = None


def location(flow: Flow, state: str) -> Path:
    """Where ``state`` is in the flow file (built-in states: the ``human:`` block)."""
    if state in flow.states:
        return ("states", state)
    if state == VOICEMAIL and flow.human.when_closed:
        return ("human", "when_closed")
    return ("human",)


def group(s: Search, violations: list[Violation]) -> list[Violation]:
    """One violation per (code, state, kind of input), counting the rest. The search is
    breadth-first, so the first found has the shortest counterexample; one whose steps
    this ``ivr replay`` knows (:func:`replayable`) is preferred to a shorter one it cannot
    run."""
    best: dict[tuple[str, str, str], Violation] = {}
    count: dict[tuple[str, str, str], int] = {}
    for v in violations:
        key = (v.code, v.where, v.inp.kind if v.inp is not None else "")
        had = best.get(key)
        if had is None or (not replayable(s, had) and replayable(s, v)):
            best[key] = v
        count[key] = count.get(key, 0) + v.count
    for key, v in best.items():
        v.count = count[key]
    return list(best.values())


def step_kinds(s: Search, v: Violation) -> set[str]:
    """The transcript step kinds ``v``'s counterexample uses."""
    kinds = {e.inp.kind for e in v.run} | ({v.inp.kind} if v.inp is not None else set())
    n = v.node
    while n >= 0:
        node = s.nodes[n]
        if node.inp is not None:
            kinds.add(node.inp.kind)
        n = node.parent
    return kinds


def replayable(s: Search, v: Violation) -> bool:
    """Every step of ``v``'s counterexample is one this ivr's transcripts have."""
    return step_kinds(s, v) <= set(tx.CALLER_KEYS)


def findings(s: Search, violations: list[Violation], flow: Flow, source: Source | None,
             bound: int) -> list[Finding]:
    out = []
    for v in group(s, violations):
        message = _message(s, v, bound)
        path = location(flow, v.where)
        steps = v.length + (s.nodes[v.node].depth if v.node >= 0 else 0)
        hint = f"{HINTS[v.code]}; counterexample: {steps} step(s), replay it with ivr replay"
        if source is not None:
            p = source.problem(v.code, message, path, hint, key=True)
        else:
            p = Problem(v.code, message, "<flow>", 0, 0, ".".join(map(str, path)), hint)
        out.append(Finding(p, transcript(s, v, flow, p), v))
    return out


def limit_finding(flow: Flow, source: Source | None, limit: int) -> Finding:
    message = (f"the exploration stopped at {limit:,} configurations: flow '{flow.id}' is "
               "not fully checked")
    hint = HINTS[checks.LIMIT]
    if source is not None:
        p = source.problem(checks.LIMIT, message, ("flow",), hint)
    else:
        p = Problem(checks.LIMIT, message, "<flow>", 0, 0, "flow", hint)
    return Finding(p, "")


def _context(s: Search, v: Violation) -> str:
    parts = [v.clock]
    node = s.nodes[v.node] if v.node >= 0 else None
    if node is not None and node.unanswered:
        parts.append("after nobody answered")
    if node is not None and node.call.language:
        parts.append(f"language {node.call.language}")
    return ", ".join(parts)


def _label(v: Violation) -> str:
    return v.inp.label() if v.inp is not None else "the start of the call"


def _quote(text: str, width: int = 70) -> str:
    text = checks.norm(text)
    return quote(text if len(text) <= width else text[:width - 1] + "…")


def _message(s: Search, v: Violation, bound: int) -> str:
    head = f"state '{v.where}' ({_context(s, v)})"
    label = _label(v)
    if v.code == checks.HUMAN_REQUEST:
        fate = "the call hangs up" if v.verb == "hangup" else f"the call goes on at '{v.state}'"
        hears = f": the caller hears {_quote(v.says)} and {fate}" if v.says else f": {fate}"
        text = f"{head}: {label} does not reach a person{hears}"
    elif v.code == checks.END_WITHOUT_REASON:
        why = f" ({v.detail})" if v.detail else ""
        text = (f"{head}: after {label} the call ends without a goodbye, a recording, a "
                f"callback or a person{why}")
    elif v.code == checks.CONFUSION_LOOP:
        labels = ", ".join(dict.fromkeys(e.inp.label() for e in v.run))
        text = (f"{head}: {len(v.run)} turn(s) of silence or garbage ({labels}) {v.detail} "
                f"(the flow's retry bound is {bound})")
    elif v.code == checks.BAD_TWIML:
        text = f"{head}: after {label}, {v.detail}"
    elif v.code == checks.SAVED_WITHOUT_RECORDING:
        text = f"{head}: after {label} the caller hears {_quote(v.says)} but no recording arrived"
    elif v.code == checks.LEG_HEARD:
        hears = f": the caller hears {_quote(v.says)}" if v.says else ""
        text = f"{head}: after {label} {v.detail}{hears}; it must change nothing"
    else:
        text = f"{head}: {label} makes the engine raise {v.detail}"
    more = f" [{v.count} configurations]" if v.count > 1 else ""
    return text + more


# --- the counterexample transcript ---------------------------------------------------------

def _path(s: Search, n: int) -> tuple[str, list[tuple[Input, str]]]:
    """The state after the start, and (input, state after) for each turn up to node ``n``."""
    steps: list[tuple[Input, str]] = []
    start = ""
    while n >= 0:
        node = s.nodes[n]
        if node.inp is None:
            start = node.call.state
        else:
            steps.append((node.inp, node.call.state))
        n = node.parent
    return start, steps[::-1]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return quote(str(value))


def _step_lines(inp: Input) -> list[str]:
    (key, value), *rest = inp.step().items()
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
        lines = [f"  - {key}: {{{inner}}}"]
    elif key == "record":
        lines = [f"  - {key}: {value}"]
    else:
        lines = [f"  - {key}: {_scalar(value)}"]
    return lines + [f"    {k}: {_scalar(v)}" for k, v in rest]


def _expect(flow: Flow, state: str, says: str = "", verb: str = "") -> str:
    known = {*flow.states, *BUILT_IN}
    parts = []
    if state in known:
        parts.append(f"state: {state}")
    if says:
        parts.append(f"says: {_scalar(checks.norm(says))}")
    if verb in tx.ACTIONS:
        parts.append(f"action: {verb}")
    return f"  - expect: {{{', '.join(parts)}}}" if parts else ""


def transcript(s: Search, v: Violation, flow: Flow, p: Problem) -> str:
    """The counterexample as transcript YAML (see the module docstring)."""
    start, steps = _path(s, v.node) if v.node >= 0 else ("", [])
    last: list[tuple[Input, str, str, str]] = [(e.inp, e.state, "", "") for e in v.run]
    if v.run:
        last[-1] = (v.run[-1].inp, v.run[-1].state, v.run[-1].says, v.run[-1].verb)
    elif v.inp is not None:
        last = [(v.inp, v.state, v.says, v.verb)]
    moment: datetime = s.clocks[v.clock]
    where = f"{p.file}:{p.line}" if p.line else p.file
    lines = [f"# ivr validate --explore: counterexample for {p.code} at {where}",
             f"# {p.message}"]
    unknown = sorted(step_kinds(s, v) - set(tx.CALLER_KEYS))
    if unknown:
        lines.append(f"# needs transcript steps this ivr replay does not know yet: "
                     f"{', '.join(unknown)}")
    if v.code == checks.ENGINE_ERROR:
        lines.append("# ivr replay fails at the last step with the engine's error while "
                     "the problem exists.")
    else:
        lines.append("# ivr replay passes this while the problem exists (it reproduces it); "
                     "once fixed, it fails at the last step.")
    lines += [f"flow: {flow.id}",
              f"name: {_scalar(f'{p.code}: ' + _label(v) + ' at ' + repr(v.where))}",
              f'clock: "{moment.isoformat()}"', "steps:"]
    if v.node >= 0:
        lines.append(_expect(flow, start))
    elif v.code != checks.ENGINE_ERROR:
        lines.append(_expect(flow, v.state, v.says, v.verb))
    for inp, state in steps:
        lines += _step_lines(inp)
        lines.append(_expect(flow, state))
    for inp, state, says, verb in last:
        lines += _step_lines(inp)
        if v.code != checks.ENGINE_ERROR:
            lines.append(_expect(flow, state, says, verb))
    return "\n".join(line for line in lines if line) + "\n"
