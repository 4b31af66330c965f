"""Replay QA transcripts through the engine (the same ``ivr.runtime.engine.step`` as live calls).

Each transcript starts a call at its clock, turns every caller step into an
:class:`~ivr.runtime.events.Event` and checks every ``expect`` against the latest turn: the state,
what the caller heard and which verbs were returned. A runaway transcript is cut at
``max_steps`` engine steps. Results carry a readable diff per failure and the states and
transitions the call went through, for coverage. ``--via URL`` swaps the in-process
driver for :class:`ivr.qa.http_driver.HttpDriver`, which posts signed webhooks instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from ivr.flowlang.catalog import Catalog, flow_files, load_dir
from ivr.flowlang.diagnostics import Problem, format_standard
from ivr.flowlang.machine import END, Compiled, built_in_states
from ivr.qa.drivers import Driver, EngineDriver, Observed
from ivr.qa.export import pinned_flow, unpinned
from ivr.qa.http_driver import HttpDriver
from ivr.qa.transcript import Expect, Transcript, load_transcript
from ivr.qa.transcript_schema import OPEN
from ivr.qa.understanding import decided, format_understood, understood
from ivr.runtime.work import DEFAULTS as ENGINE_DEFAULTS
from ivr.runtime.work import Options as EngineOptions

MAX_STEPS = 200
"""Engine steps one transcript may take before it is cut as a runaway."""


@dataclass
class Failure:
    """Why a transcript failed: where, what was expected and what actually happened."""

    step: int
    line: int
    title: str
    diff: list[tuple[str, str, str]] = field(default_factory=list)
    turn: Observed | None = None

    def render(self, file: str) -> str:
        """The readable diff: location, expected (-) vs actual (+), what the caller heard."""
        where = f"{file}:{self.line}: step {self.step}" if self.line else file
        out = [f"  {where}: {self.title}"]
        for key, want, got in self.diff:
            out += [f"    - expected {key}: {want}", f"    + actual   {key}: {got}"]
        if self.turn is not None:
            where = self.turn.state if self.turn.state is not None else "(unknown)"
            acts = ", ".join(self.turn.actions) or "none"
            out.append(f"    caller heard in state '{where}' (actions: {acts}):")
            out += [f"      🔊 {s}" for s in self.turn.said] or ["      (nothing)"]
        return "\n".join(out)


@dataclass
class Result:
    """The outcome of one transcript file."""

    file: str
    name: str = ""
    flow: str = ""
    failures: list[Failure] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    states: set[str] = field(default_factory=set)
    edges: set[str] = field(default_factory=set)
    outcome: str | None = None
    meant: list[tuple[str, str, str]] = field(default_factory=list)
    """(menu state, what the caller meant, what the engine decided) per ``meant:`` step."""

    @property
    def passed(self) -> bool:
        return not self.failures and not self.problems

    def report(self) -> str:
        """PASS line, or the FAIL header followed by the problems or the diff."""
        if self.passed:
            return f"PASS {self.file}: {self.name}"
        head = f"FAIL {self.file}: {self.name or '(not loaded)'}"
        body = [format_standard(p, self.lines) for p in self.problems]
        body += [f.render(self.file) for f in self.failures]
        return "\n".join([head, *body])


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def check_expect(e: Expect, turn: Observed) -> list[tuple[str, str, str]]:
    """The (key, expected, actual) triples of ``e`` that ``turn`` does not satisfy."""
    out = []
    if e.state and turn.state is not None and turn.state != e.state:
        out.append(("state", e.state, turn.state))
    if e.says and _norm(e.says) not in _norm(" ".join(turn.said)):
        out.append(("says", repr(e.says), " / ".join(turn.said) or "(nothing)"))
    if e.action and e.action not in turn.actions:
        out.append(("action", e.action, ", ".join(turn.actions) or "(none)"))
    return out


def run(driver: Driver, t: Transcript, max_steps: int = MAX_STEPS) -> Result:
    """Play ``t`` through ``driver``; stop at the first failure."""
    res = Result(t.file, t.name, t.flow)
    began = time.perf_counter()
    try:
        turn = driver.start(t)
        res.steps = 1
        _play(driver, t, turn, res, max_steps)
    except Exception as exc:  # noqa: BLE001 - an engine/server error is a failed replay
        res.failures.append(Failure(0, 0, f"error: {type(exc).__name__}: {exc}"))
    res.seconds = time.perf_counter() - began
    res.states, res.edges = set(driver.states), set(driver.edges)
    return res


def _play(driver: Driver, t: Transcript, turn: Observed, res: Result, max_steps: int) -> None:
    after = "the start of the call"
    for s in t.steps:
        if s.kind:
            after = f"{s.describe()} (step {s.number})"
            if res.steps >= max_steps:
                res.failures.append(Failure(s.number, s.line, (
                    f"cut at the step limit ({max_steps} engine steps): a runaway "
                    "transcript or a loop in the flow"), turn=turn))
                return
            if turn.ended:
                res.failures.append(Failure(s.number, s.line, (
                    f"the call already ended (outcome {turn.outcome or '?'}), "
                    f"but the caller still does: {s.describe()}"), turn=turn))
                return
            before, turn = turn.state, driver.send(s)
            res.steps += 1
            if s.meant and turn.hops is not None:  # unknown over --via: not measured
                res.meant.append((before or "", s.meant, decided(before, turn)))
        res.outcome = turn.outcome
        diff = check_expect(s.expect, turn) if s.expect else []
        if diff:
            title = f"expect {s.expect.describe() if s.expect else ''} after {after}"
            res.failures.append(Failure(s.number, s.line, title, diff, turn))
            return
    res.outcome = turn.outcome
    if t.outcome not in ("", OPEN) and turn.outcome is not None and turn.outcome != t.outcome:
        last = t.steps[-1] if t.steps else None
        res.failures.append(Failure(
            len(t.steps), last.line if last else 1, "at the end of the call",
            [("outcome", t.outcome, turn.outcome or f"(none yet: in '{turn.state}')")], turn))


# --- many files, in parallel --------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    """How to run: where the flows are, the step limit, and (optionally) a server to call."""

    flows: tuple[str, ...] = ("flows",)
    max_steps: int = MAX_STEPS
    via: str = ""
    auth_token: str = ""
    semantic_cache: str = ""
    """Not '': decide menu speech as ``semantic_matching: true`` does, with the model
    kept in this directory (each replay process loads it once)."""


_CATALOG: dict[tuple[str, ...], Catalog] = {}


def catalog_for(flows: Sequence[str]) -> Catalog:
    """The catalog of ``flows`` directories, loaded once per process."""
    key = tuple(flows)
    if key not in _CATALOG:
        _CATALOG[key] = load_dir(key)[0]
    return _CATALOG[key]


def engine_options(opts: Options) -> EngineOptions:
    """The engine's options for a replay: the meaning guard when asked for (loaded once per
    process by ``load_guard``; raises ``ModelUnavailable`` when it cannot load: a replay
    never silently falls back to another matcher than the one asked for)."""
    if not opts.semantic_cache:
        return ENGINE_DEFAULTS
    from ivr.semantic.load import load_guard

    return EngineOptions(meaning=load_guard(Path(opts.semantic_cache))[0])


def run_file(path: str, opts: Options | None = None) -> Result:
    """Load and replay one transcript file."""
    opts = opts or Options()
    cat = catalog_for(opts.flows)
    flows = {k: c.flow for k, c in cat.current.items()}
    loaded = load_transcript(path, flows)
    t = loaded.transcript
    if t is not None and t.version and t.version != flows[t.flow].version and not opts.via:
        pinned = pinned_flow(path, t.flow, t.version)
        if pinned is None:
            return Result(path, problems=[unpinned(loaded, t.flow, t.version,
                                                    flows[t.flow].version)],
                          lines=loaded.source.lines)
        loaded = load_transcript(path, {**flows, t.flow: pinned.flow})
        t = loaded.transcript
        if t is not None:
            return run(EngineDriver(pinned, options=engine_options(opts)), t, opts.max_steps)
    if t is None:
        return Result(path, problems=loaded.problems, lines=loaded.source.lines)
    if opts.via:
        return run(HttpDriver(opts.via, t.flow, opts.auth_token), t, opts.max_steps)
    return run(EngineDriver(cat.current[t.flow], options=engine_options(opts)), t,
               opts.max_steps)


def transcript_files(paths: Iterable[str]) -> list[str]:
    """Every transcript file under ``paths`` (directories walked, sorted).

    Inside a directory, ``flows/`` folders hold pinned flow versions (``ivr export``), not
    transcripts, and are skipped; a file named explicitly is always taken.
    """
    out: list[str] = []
    for path in paths:
        files = list(flow_files([path]))
        if Path(path).is_dir():
            files = [f for f in files if "flows" not in Path(f).relative_to(path).parts[:-1]]
        out.extend(files)
    return out


def run_paths(paths: Iterable[str], opts: Options | None = None, jobs: int = 1) -> list[Result]:
    """Replay every transcript under ``paths``; ``jobs`` > 1 uses processes. Input order."""
    opts = opts or Options()
    files = transcript_files(paths)
    if jobs <= 1 or len(files) <= 1:
        return [run_file(f, opts) for f in files]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_file, files, [opts] * len(files),
                             chunksize=max(1, len(files) // (jobs * 4))))


# --- coverage -----------------------------------------------------------------------------

@dataclass
class Coverage:
    """States and transitions of one flow, and which of them the transcripts visited."""

    flow: str
    states: list[str]
    edges: list[str]
    hit_states: set[str] = field(default_factory=set)
    hit_edges: set[str] = field(default_factory=set)
    transcripts: int = 0
    meant: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def missing_states(self) -> list[str]:
        return [s for s in self.states if s not in self.hit_states]

    @property
    def missing_edges(self) -> list[str]:
        return [e for e in self.edges if e not in self.hit_edges]

    def state_pct(self) -> float:
        return 100.0 * (len(self.states) - len(self.missing_states)) / max(1, len(self.states))

    def edge_pct(self) -> float:
        return 100.0 * (len(self.edges) - len(self.missing_edges)) / max(1, len(self.edges))


def flow_coverage(c: Compiled) -> Coverage:
    """What there is to cover in ``c``: its states, the human, and their transitions."""
    states = [*c.flow.states, *(s for s in built_in_states(c.flow) if s != END)]
    edges = sorted(f"{s}>{t}>{d}" for s, t, d in c.edges() if s in states)
    return Coverage(c.flow.id, states, edges)


def coverage(results: Iterable[Result], cat: Catalog) -> dict[str, Coverage]:
    """Per flow (that any transcript uses): the union of states and edges the calls took."""
    out: dict[str, Coverage] = {}
    for r in results:
        c = cat.get(r.flow)
        if c is None:
            continue
        cov = out.setdefault(r.flow, flow_coverage(c))
        cov.transcripts += 1
        cov.hit_states |= r.states & set(cov.states)
        cov.hit_edges |= r.edges & set(cov.edges)
        cov.meant += r.meant
    return out


def format_coverage(covs: dict[str, Coverage], cat: Catalog) -> str:
    """The coverage table, then what no transcript visits."""
    lines = ["coverage:"]
    for cov in covs.values():
        lines.append(f"  {cov.flow}: states {cov.state_pct():.1f}% "
                     f"({len(cov.states) - len(cov.missing_states)}/{len(cov.states)}), "
                     f"transitions {cov.edge_pct():.1f}% "
                     f"({len(cov.edges) - len(cov.missing_edges)}/{len(cov.edges)}), "
                     f"{cov.transcripts} transcript(s)")
        if cov.missing_states:
            lines.append(f"    states never entered: {', '.join(cov.missing_states)}")
        if cov.missing_edges:
            lines.append("    transitions never taken: " + ", ".join(
                e.replace(">", " -", 1).replace(">", "-> ", 1) for e in cov.missing_edges))
        c = cat.get(cov.flow)
        if c is not None:
            lines += format_understood(understood(c, cov.hit_edges, cov.meant))
    idle = sorted(set(cat.current) - set(covs))
    if idle:
        lines.append(f"  flows with no transcript: {', '.join(idle)}")
    return "\n".join(lines)


# --- JUnit --------------------------------------------------------------------------------

def junit_xml(results: Sequence[Result], suite: str = "ivr replay") -> str:
    """JUnit XML: one testcase per transcript; the failure message is the diff."""
    root = ET.Element("testsuites")
    fails = sum(1 for r in results if r.failures)
    errors = sum(1 for r in results if r.problems)
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                       failures=str(fails), errors=str(errors),
                       time=f"{sum(r.seconds for r in results):.4f}")
    for r in results:
        case = ET.SubElement(ts, "testcase", classname=r.flow or "transcript",
                             name=r.name or r.file, file=r.file, time=f"{r.seconds:.4f}")
        if r.problems:
            first = r.problems[0]
            el = ET.SubElement(case, "error", type=first.code, message=first.message)
            el.text = r.report()
        elif r.failures:
            text = r.report()
            el = ET.SubElement(case, "failure", type="transcript", message=text)
            el.text = text
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
