"""Breadth-first search over a flow's configurations with the real ``step()``.

A configuration is the part of :class:`~ivr.runtime.events.CallState` that steers the
call: every field except the bookkeeping in :data:`IGNORED` (so fields the engine grows
later are kept without a change here), plus the clock class, what the last actions wait
for (:class:`~ivr.qa.explore.alphabet.Waiting`, which carries the queue's tick class), and
two facts of the call's past the checks need: nobody answered a dial, a recording arrived.
Each configuration keeps the first (shortest) way it was reached: the BFS parent pointers
that make a counterexample.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from ivr.flowlang.machine import Compiled
from ivr.qa.drivers import EngineDriver
from ivr.qa.explore import checks
from ivr.qa.explore.alphabet import (
    Alphabet,
    Input,
    Listen,
    Waiting,
    event,
    not_answered,
    waiting_after,
)
from ivr.runtime.actions import Action, spoken
from ivr.runtime.events import CallState, Event, EventKind

START = Input("start")
StepFn = Callable[[Compiled, CallState, Event], tuple[CallState, list[Action]]]

IGNORED = frozenset({"sid", "flow", "version", "turn", "slots", "path", "edges", "reason",
                     "heard", "outcome", "whisper", "history", "started", "hops", "leg",
                     "expected", "picked_up"})
"""CallState fields that are history or bookkeeping: they change what is said or stored,
never where the call goes. Every other field is part of a configuration."""
BUCKETS: dict[str, Any] = {
    "ticks": lambda n: min(n, 1),               # the first announcement, or a later one
    "waited": lambda s: min(s // 300, 2),       # periodic offers come every few minutes
}
"""Counters the engine only compares against a bound: a configuration keeps their class."""


def configuration(call: CallState) -> tuple[Hashable, ...]:
    """The behaviour-relevant projection of ``call`` (hashable)."""
    getter = _KEPT.get(type(call))
    if getter is None:
        names = [f.name for f in fields(call) if f.name not in IGNORED]
        getter = _KEPT[type(call)] = operator.attrgetter(*names)
        _NAMES[type(call)] = names
    return tuple(BUCKETS[n](v) if n in BUCKETS else v if type(v) in _PLAIN else _frozen(v)
                 for n, v in zip(_NAMES[type(call)], getter(call), strict=True))


_KEPT: dict[type, operator.attrgetter[Any]] = {}
_NAMES: dict[type, list[str]] = {}
_PLAIN = frozenset({str, int, bool, float, type(None)})


def _frozen(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return frozenset(_frozen(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value  # type: ignore[no-any-return]


@dataclass
class Node:
    """One configuration, with the shortest way to it (``parent`` -1: the call's start)."""

    call: CallState
    wait: Waiting
    clock: str
    unanswered: bool
    recorded: bool
    depth: int
    parent: int
    inp: Input | None


@dataclass
class Edge:
    """A silence/garbage turn from a configuration (for invariant c)."""

    inp: Input
    dest: int
    """The configuration it leads to; -1 when the call ended (or the engine raised)."""
    person: bool
    state: str
    says: str
    verb: str


@dataclass
class Violation:
    """A turn that broke the promise: from configuration ``node`` by ``inp``."""

    code: str
    node: int
    inp: Input | None
    detail: str
    where: str
    """The call's state before the turn (where it broke)."""
    clock: str
    state: str = ""
    """The call's state after the turn ('' when the engine raised)."""
    says: str = ""
    verb: str = ""
    run: list[Edge] = field(default_factory=list)
    """Invariant c: the silence/garbage turns after ``node`` that show the problem."""
    count: int = 1
    """How many configurations show it (after grouping)."""

    @property
    def length(self) -> int:
        return len(self.run) + (1 if self.inp is not None else 0)


@dataclass
class Search:
    """The result of :func:`search`: every configuration and what broke."""

    nodes: list[Node]
    edges: dict[int, list[Edge]]
    violations: list[Violation]
    transitions: int
    complete: bool
    clocks: dict[str, datetime]


class _Explorer:
    def __init__(self, c: Compiled, step: StepFn, alphabet: Alphabet, ticks: bool,
                 limit: int, clocks: dict[str, datetime]) -> None:
        self.c, self.step, self.alphabet, self.ticks = c, step, alphabet, ticks
        self.limit, self.clocks = limit, clocks
        self.goodbyes = checks.goodbye_texts(c.flow)
        self.nodes: list[Node] = []
        self.index: dict[tuple[Hashable, ...], int] = {}
        self.edges: dict[int, list[Edge]] = {}
        self.violations: list[Violation] = []
        self.transitions = 0
        self.complete = True
        self.events: dict[tuple[Input, Listen | None, str], Event] = {}

    def run(self) -> Search:
        for clock, now in self.clocks.items():
            start = EngineDriver(self.c).call
            self._apply(-1, start, Waiting(), clock, False, False, None, Event.start(now), -1)
        todo = deque(range(len(self.nodes)))
        while todo:
            n = todo.popleft()
            node = self.nodes[n]
            for inp, ev in self._inputs(node):
                before = len(self.nodes)
                self._apply(n, node.call, node.wait, node.clock, node.unanswered,
                            node.recorded, inp, ev, node.depth)
                todo.extend(range(before, len(self.nodes)))
        return Search(self.nodes, self.edges, self.violations, self.transitions,
                      self.complete, self.clocks)

    def _inputs(self, node: Node) -> list[tuple[Input, Event]]:
        """The node's alphabet, one input per distinct event (their classes merged)."""
        now = self.clocks[node.clock]
        out: dict[tuple[Any, ...], tuple[Input, Event]] = {}
        for inp in self.alphabet(self.c, node.call, node.wait, self.ticks):
            memo = (inp, node.wait.gather, node.clock)
            e = self.events.get(memo)
            if e is None:
                e = self.events[memo] = event(inp, node.wait, now)
            key = (e.kind, e.digits, e.text, e.confidence, e.status, bool(e.url), e.duration,
                   e.queue)
            had = out.get(key)
            if had is None:
                out[key] = (inp, e)
            elif (inp.human and not had[0].human) or (inp.confusion and not had[0].confusion):
                h = had[0]
                out[key] = (Input(h.kind, h.value, h.confidence, h.human or inp.human,
                                  h.confusion or inp.confusion), e)
        return list(out.values())

    def _apply(self, n: int, call: CallState, wait: Waiting, clock: str, unanswered: bool,
               recorded: bool, inp: Input | None, ev: Event, depth: int) -> None:
        self.transitions += 1
        try:
            after, actions = self.step(self.c, call, ev)
        except Exception as exc:  # noqa: BLE001 - an engine error is a hole in the call
            self._violate(checks.ENGINE_ERROR, n, inp, f"{type(exc).__name__}: {exc}",
                          call.state or self.c.flow.start, clock)
            return  # reported once, as IVR606 (not also as a silence run that ends)
        new_wait = waiting_after(actions, after, wait, ev)
        if ev.kind is EventKind.DIAL_RESULT and not_answered(ev.status):
            unanswered = True
        recorded = recorded or checks.recording_arrived(ev)
        queued = wait.queue is not None and ev.kind is not EventKind.DIAL_RESULT
        t = checks.Turn(call, inp or START, ev, after, actions, new_wait, clock != "open",
                        unanswered, recorded, spoken(actions), queued)
        ended = checks.ends(t)
        self._check(n, t, clock, ended)
        dest = -1
        if not ended:
            dest = self._node(after, new_wait, clock, unanswered, recorded, n, inp, depth + 1)
        if inp is not None and inp.confusion:
            self.edges.setdefault(n, []).append(Edge(
                inp, dest, checks.person(t) or checks.reached(new_wait), after.state,
                t.said[0] if t.said else "", checks.main_verb(actions)))

    def _node(self, call: CallState, wait: Waiting, clock: str, unanswered: bool,
              recorded: bool, parent: int, inp: Input | None, depth: int) -> int:
        key = (configuration(call), clock, wait, unanswered, recorded)
        found = self.index.get(key)
        if found is not None:
            return found
        if len(self.nodes) >= self.limit:
            self.complete = False
            return -2
        self.index[key] = len(self.nodes)
        self.nodes.append(Node(call, wait, clock, unanswered, recorded, depth, parent, inp))
        return len(self.nodes) - 1

    def _check(self, n: int, t: checks.Turn, clock: str, ended: bool) -> None:
        said = t.said
        verb = checks.main_verb(t.actions)
        where = t.before.state or self.c.flow.start
        found: list[tuple[str, str, str]] = []
        bad_xml = checks.twiml_problem(t.actions) or (
            checks.wait_document_problem(t.actions) if t.queued else "")
        if bad_xml:
            found.append((checks.BAD_TWIML, f"the TwiML {bad_xml}", ""))
        saved = checks.false_saved(t)
        if saved:
            found.append((checks.SAVED_WITHOUT_RECORDING, saved, saved))
        if ended and not checks.end_reason(t, self.goodbyes):
            why = "" if t.wait.continues else "the TwiML leaves nothing to wait for"
            found.append((checks.END_WITHOUT_REASON, why, said[-1] if said else ""))
        if t.inp.human and not checks.person(t):
            found.append((checks.HUMAN_REQUEST, "", said[0] if said else ""))
        if t.event.kind is EventKind.LEG and t.actions:
            found.append((checks.LEG_HEARD, f"the turn returned {verb or 'actions'}",
                          said[0] if said else ""))
        for code, detail, says in found:
            self._violate(code, n, t.inp, detail, where, clock, t.after.state, says, verb)

    def _violate(self, code: str, n: int, inp: Input | None, detail: str, where: str,
                 clock: str, state: str = "", says: str = "", verb: str = "") -> None:
        self.violations.append(Violation(code, n, inp if n >= 0 else None, detail, where,
                                         clock, state, says, verb))


def search(c: Compiled, step: StepFn, alphabet: Alphabet, ticks: bool, limit: int,
           clocks: dict[str, datetime]) -> Search:
    """Explore ``c`` from a fresh call at each clock class, up to ``limit`` configurations."""
    return _Explorer(c, step, alphabet, ticks, limit, clocks).run()
