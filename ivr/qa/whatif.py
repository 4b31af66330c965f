"""``ivr replay --what-if``: where would these callers have landed on this flow?

Each transcript is played through ``ivr.runtime.engine.step`` (the same function as live
calls, driven directly: no Redis, no HTTP) without checking any ``expect`` or outcome.
Per call it notes where the caller **landed**: the first menu choice the engine made
(an intent, or ``other``), else a person (before any menu choice: a human key or phrase,
or the retries ran out), voicemail, a hang-up, the end of the call, or ``unfinished``
(the recording ran out while the caller was still being asked); where the caller
**zeroed out** (asked for a person: 0, "agent"), where they were **asked to confirm**
("It sounds like ... is that right?") and what they said that landed in ``other``.
A caller step that arrives once the person is being rung is not played (in the recorded
call it was said to the old system, before a person picked up).

:func:`summarise` makes a :class:`FlowReport` per flow (the utterances in ``other``
grouped by meaning with :func:`ivr.qa.grouping.top`); :func:`compare` runs the same calls
on another version and lists which callers move, and where.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from ivr.flowlang.catalog import Catalog, compile_text
from ivr.flowlang.diagnostics import format_parsable
from ivr.flowlang.machine import END, VOICEMAIL, Compiled
from ivr.flowlang.model import HUMAN, OTHER, Flow, Kind
from ivr.flowlang.source import gc_paused
from ivr.qa.drivers import event_for, keypad
from ivr.qa.export import pinned_flow
from ivr.qa.grouping import Group, top
from ivr.qa.replay import catalog_for
from ivr.qa.transcript import Step, Transcript, quick_load
from ivr.runtime.actions import Gather
from ivr.runtime.engine import step as engine_step
from ivr.runtime.events import CallState, Event

MAX_STEPS = 200
PERSON, VOICE_MAIL, HANG_UP, ENDED, UNFINISHED, ERROR = (
    "person", "voicemail", "hang-up", "ended", "unfinished", "error")
_CALLER_INPUT = frozenset({"press", "say", "silence"})


@dataclass
class Landing:
    """Where one call went on one flow version."""

    file: str
    name: str
    flow: str
    landed: str = ""
    at: str = ""
    """The state where the call landed (the menu of the choice, or where it was)."""
    zeroed: str = ""
    """The state where the caller asked for a person ("" when they did not)."""
    confirm: str = ""
    """``state: intent`` where the caller was asked to confirm ("" when not)."""
    other_said: str = ""
    choices: list[str] = field(default_factory=list)
    """Every menu choice on the way, as ``menu: intent``."""
    outcome: str = ""
    steps: int = 0
    error: str = ""


class _Walk:
    """One call through the engine, noting the landing as the hops go by."""

    def __init__(self, c: Compiled, t: Transcript) -> None:
        self.c, self.t = c, t
        self.out = Landing(t.file, t.name, c.flow.id)
        self.now = t.clock or datetime.now(UTC)
        self.call = CallState("CAwhatif", c.flow.id, c.flow.version, caller=t.caller)
        self.gather: Gather | None = None

    def step(self, event: Event, s: Step | None) -> None:
        self.call, actions = engine_step(self.c, self.call, event)
        self.out.steps += 1
        self.gather = next((a for a in actions if isinstance(a, Gather)), None)
        for hop in self.call.hops:
            self._hop(hop, s)
        if self.call.pending and not self.out.confirm:
            self.out.confirm = f"{self.call.state}: {self.call.pending}"

    def _hop(self, hop: str, s: Step | None) -> None:
        src, trigger, dest = hop.split(">", 2)
        out = self.out
        if trigger == HUMAN and src != HUMAN and not out.zeroed:
            out.zeroed = src
        if trigger.startswith("intent_"):
            out.choices.append(f"{src}: {trigger.removeprefix('intent_')}")
        if out.landed:
            return
        said = s.value if s is not None and s.kind == "say" else ""
        if trigger.startswith("intent_"):
            out.landed, out.at = trigger.removeprefix("intent_"), src
            out.other_said = said if out.landed == OTHER else ""
        elif dest == HUMAN:
            out.landed, out.at = PERSON, src
        elif dest == VOICEMAIL or self._kind(dest) is Kind.VOICEMAIL:
            out.landed, out.at = VOICE_MAIL, src

    def _kind(self, name: str) -> Kind | None:
        state = self.c.flow.states.get(name)
        return state.kind if state is not None else None

    def event(self, s: Step) -> Event:
        if s.kind == "press" and self.gather is not None:
            digits = keypad(s.value, self.gather.num_digits, self.gather.finish_on_key)
            return Event.press(digits, self.now) if digits else Event.silence(self.now)
        return event_for(s, self.now)

    def run(self) -> Landing:
        self.step(Event.start(self.now), None)
        for s in self.t.steps:
            if not s.kind:
                continue
            if self.call.ended or self.out.steps >= MAX_STEPS or (
                    self.call.state == HUMAN and s.kind in _CALLER_INPUT):
                break
            in_capture = self._kind(self.call.state) is Kind.CAPTURE
            self.step(self.event(s), s)
            if in_capture and s.kind == "say" and self.out.landed == OTHER:
                self.out.other_said = self.out.other_said or s.value
        return self._finish()

    def _finish(self) -> Landing:
        out, call = self.out, self.call
        out.outcome = call.outcome or ("" if call.ended else f"(in {call.state})")
        if not out.landed:
            if call.ended:
                out.landed = HANG_UP if call.outcome == "hangup" else ENDED
                out.at = next((h.split(">")[0] for h in call.hops if h.endswith(END)),
                              call.state)
            else:
                out.landed, out.at = UNFINISHED, call.state
        return out


def walk(c: Compiled, t: Transcript) -> Landing:
    """Where transcript ``t`` lands on flow version ``c`` (an engine error: ``error``)."""
    w = _Walk(c, t)
    try:
        return w.run()
    except Exception as exc:  # noqa: BLE001 - an engine error is a finding, not a crash
        w.out.landed, w.out.at, w.out.error = ERROR, w.call.state, f"{type(exc).__name__}: {exc}"
        return w.out


# --- per flow -----------------------------------------------------------------------------

@dataclass
class Move:
    """Callers whose landing differs on the other version."""

    before: str
    after: str
    files: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    """The same calls on another version of the flow."""

    flow: str
    version: str
    source: str
    landed: dict[str, int]
    moves: list[Move]
    calls: list[Landing]


@dataclass
class FlowReport:
    """What-if figures of one flow over all its calls."""

    flow: str
    version: str
    calls: list[Landing]
    landed: dict[str, int]
    choices: dict[str, int]
    zeroed: dict[str, int]
    confirm: dict[str, int]
    outcomes: dict[str, int]
    other: list[Group]
    against: Comparison | None = None

    @property
    def zeroed_total(self) -> int:
        return sum(self.zeroed.values())

    @property
    def confirm_total(self) -> int:
        return sum(self.confirm.values())

    def as_json(self) -> dict[str, object]:
        """Plain data for ``--json``."""
        out = asdict(self)
        out["zeroed_total"], out["confirm_total"] = self.zeroed_total, self.confirm_total
        return out


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(v for v in values if v).most_common())


def summarise(c: Compiled, calls: Sequence[Landing]) -> FlowReport:
    """The figures of ``calls`` (all on ``c``): landings, menu choices (each counted once
    per call), zero-outs, confirms, outcomes, what was said in ``other``, grouped."""
    return FlowReport(
        c.flow.id, c.flow.version, list(calls), _count(x.landed for x in calls),
        _count(choice for x in calls for choice in dict.fromkeys(x.choices)),
        _count(x.zeroed for x in calls), _count(x.confirm for x in calls),
        _count(x.outcome for x in calls), top(x.other_said for x in calls
                                              if x.landed == OTHER and x.other_said))


def compare(report: FlowReport, other: Compiled, calls: Sequence[Landing],
            source: str) -> Comparison:
    """The moves between ``report``'s calls and the same ``calls`` on ``other``."""
    moves: dict[tuple[str, str], Move] = {}
    for a, b in zip(report.calls, calls, strict=True):
        if a.landed != b.landed:
            moves.setdefault((a.landed, b.landed), Move(a.landed, b.landed)).files.append(
                a.file)
    ordered = sorted(moves.values(), key=lambda m: (-len(m.files), m.before, m.after))
    return Comparison(other.flow.id, other.flow.version, source,
                      _count(x.landed for x in calls), ordered, list(calls))


# --- many files, in parallel --------------------------------------------------------------

@dataclass(frozen=True)
class Against:
    """Another version of one flow to run the same calls on: its text, file and name."""

    text: str
    file: str
    source: str

    def compiled(self) -> Compiled:
        return compile_text(self.text, self.file)


@dataclass
class Run:
    """A what-if over many transcripts: one report per flow, and the files not loaded."""

    reports: list[FlowReport]
    errors: list[str]


Walked = tuple[str, str, Landing, "Landing | None"]
"""(flow id, version played, the landing, the landing on the other version)."""


def walk_files(files: Sequence[str], flows: tuple[str, ...],
               against: Against | None = None) -> tuple[list[Walked], list[str]]:
    """Load and walk ``files`` (a worker's share): each call's landings; the load errors.
    A transcript pinned to a version kept in ``flows/`` beside it plays on that version."""
    cat = catalog_for(flows)
    other = against.compiled() if against else None
    known = {k: c.flow for k, c in cat.current.items()}
    out: list[Walked] = []
    errors: list[str] = []
    with gc_paused():  # thousands of small lasting objects: see gc_paused
        for path in files:
            _walk_one(path, cat, known, other, out, errors)
    return out, errors


def _walk_one(path: str, cat: Catalog, known: Mapping[str, Flow], other: Compiled | None,
              out: list[Walked], errors: list[str]) -> None:
    loaded = quick_load(path, known)
    t = loaded.transcript
    if t is None:
        errors += [format_parsable(p) for p in loaded.problems]
        return
    c = cat.current[t.flow]
    if t.version and t.version != c.flow.version:
        c = pinned_flow(path, t.flow, t.version) or c
    then = walk(other, t) if other is not None and other.flow.id == t.flow else None
    out.append((t.flow, c.flow.version, walk(c, t), then))


def run_paths(files: Sequence[str], flows: tuple[str, ...], against: Against | None = None,
              jobs: int = 1) -> Run:
    """The what-if of ``files`` (``jobs`` > 1: in that many processes, same result)."""
    cat = catalog_for(flows)
    other = against.compiled() if against else None  # compiled before workers fork
    if jobs <= 1 or len(files) < 2 * jobs:
        parts = [walk_files(files, flows, against)]
    else:
        size = -(-len(files) // (jobs * 4))
        chunks = [files[i:i + size] for i in range(0, len(files), size)]
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            parts = list(pool.map(walk_files, chunks, [flows] * len(chunks),
                                  [against] * len(chunks)))
    walked = [w for part, _ in parts for w in part]
    errors = [e for _, part in parts for e in part]
    reports = []
    for flow_id in dict.fromkeys(w[0] for w in walked):
        mine = [w for w in walked if w[0] == flow_id]
        report = summarise(cat.current[flow_id], [w[2] for w in mine])
        if other is not None and against is not None and other.flow.id == flow_id:
            report.against = compare(report, other, [w[3] for w in mine if w[3]],
                                     against.source)
        reports.append(report)
    return Run(reports, errors)
