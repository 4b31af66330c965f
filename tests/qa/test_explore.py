"""``ivr validate --explore``: the real engine over every configuration, checked.

One fixture flow per invariant that a valid flow can break (tests/flows/explore/, each
starting ``# expect: CODE at LINE:COL``); the invariants the engine itself guarantees
(b: IVR602, d: IVR604, and IVR606) are broken by injecting a broken ``step`` instead.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from ivr.cli import main
from ivr.flowlang.catalog import check_file, check_text
from ivr.flowlang.hours import holiday_calendar, is_open
from ivr.flowlang.machine import END, OFFER, VOICEMAIL, Compiled, compiled
from ivr.flowlang.model import HUMAN, Kind
from ivr.qa.explore import Report, configuration, explore
from ivr.qa.explore.alphabet import (
    HOSTILE,
    Input,
    Waiting,
    alphabet,
    hostile,
    quote,
    waiting_after,
)
from ivr.qa.explore.clock import clock_classes
from ivr.qa.transcript import parse_transcript
from ivr.runtime import engine
from ivr.runtime.actions import Action, Dial, Enqueue, Gather, Hangup, Record, Say
from ivr.runtime.events import CallState, Event, EventKind
from tests.conftest import ROOT
from tests.flowlang.test_properties import valid_flows

FIXTURES = ROOT / "tests" / "flows" / "explore"
SHIPPED = sorted((ROOT / "flows").glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (IVR\d+) at (\d+):(\d+)")
SMALL = FIXTURES / "IVR605-saved-without-recording.yaml"


def load(path: Path) -> tuple[Compiled, object]:
    checked = check_file(str(path))
    assert checked.flow is not None and checked.ok(), checked.problems
    return compiled(checked.flow), checked.source


def run(path: Path, **kwargs: object) -> Report:
    c, source = load(path)
    return explore(c, source, **kwargs)  # type: ignore[arg-type]


def codes(report: Report) -> set[str]:
    return {f.problem.code for f in report.findings}


def is_voicemail(c: Compiled, state: str) -> bool:
    s = c.flow.states.get(state)
    return state == VOICEMAIL or (s is not None and s.kind is Kind.VOICEMAIL)


def the_old_offer_bug(c: Compiled, call: CallState,
                      ev: Event) -> tuple[CallState, list[Action]]:
    """The engine as issue 13 found it (a test double): at the callback offer, any key but
    1 counted as a finished voicemail: "your message is saved", and a hang-up."""
    if call.state == OFFER and ev.kind is EventKind.DIGITS and ev.digits != "1":
        after = replace(call, turn=call.turn + 1, state=END, ended=True, outcome="voicemail")
        return after, [Say("Thank you. Your message is saved and we will call you back. "
                           "Goodbye."), Hangup()]
    return engine.step(c, call, ev)


# --- the fixtures: each flow breaks its invariant ------------------------------------------

FLOW_FIXTURES = sorted(FIXTURES.glob("*.yaml"))


@pytest.mark.parametrize("path", FLOW_FIXTURES, ids=[p.stem for p in FLOW_FIXTURES])
def test_fixture_breaks_its_invariant_where_it_says(path: Path) -> None:
    m = _EXPECT.match(path.read_text())
    assert m, f"{path.name} must start with '# expect: CODE at LINE:COL'"
    code, line, col = m.group(1), int(m.group(2)), int(m.group(3))
    assert path.stem.startswith(code)
    assert check_file(str(path)).problems == []  # a valid flow: only exploring finds it
    report = run(path)
    assert (code, line, col) in [(f.problem.code, f.problem.line, f.problem.col)
                                 for f in report.findings], report.problems
    # and nothing else once the engine's voicemail bug is out of the way
    assert codes(run(path, step=engine.step)) == {code}


def test_fixture_for_every_invariant_a_flow_can_break() -> None:
    assert {p.stem.split("-")[0] for p in FLOW_FIXTURES} == {"IVR601", "IVR603", "IVR605"}


def test_human_key_that_is_the_finish_key() -> None:
    report = run(FIXTURES / "IVR601-finish-key-is-human-key.yaml", step=engine.step)
    (f,) = report.findings
    assert "state 'account' (open): press \"#\" does not reach a person" in f.problem.message
    assert "I didn't hear anything" in f.problem.message
    assert f.transcript.endswith('  - press: "#"\n  - expect: {state: account, says: "Sorry, '
                                 'I didn\'t hear anything.", action: gather}\n')


def test_confusion_loop_shows_the_run() -> None:
    report = run(FIXTURES / "IVR603-retries-loop.yaml", step=engine.step)
    assert {f.problem.code for f in report.findings} == {"IVR603"}
    menu = next(f for f in report.findings if "'menu'" in f.problem.message)
    assert "loop without reaching a person (the flow's retry bound is 3)" in (
        menu.problem.message)
    assert menu.transcript.count("  - press:") + menu.transcript.count("  - silence:") == 4


# --- injected broken engines: invariants a valid flow cannot break ----------------------------

def hangs_up_on_1(c: Compiled, call: CallState, ev: Event) -> tuple[CallState, list[Action]]:
    if ev.kind is EventKind.DIGITS and ev.digits == "1" and call.state == "menu":
        return replace(call, ended=True, turn=call.turn + 1), [Say("OK."), Hangup()]
    return engine.step(c, call, ev)


def forgets_to_wait_on_1(c: Compiled, call: CallState,
                         ev: Event) -> tuple[CallState, list[Action]]:
    if ev.kind is EventKind.DIGITS and ev.digits == "1" and call.state == "menu":
        return replace(call, turn=call.turn + 1), [Say("One moment.")]
    return engine.step(c, call, ev)


def test_ivr602_end_without_reason_needs_a_broken_engine() -> None:
    for broken, extra in ((hangs_up_on_1, ""),
                          (forgets_to_wait_on_1, "the TwiML leaves nothing to wait for")):
        report = run(SMALL, step=broken)
        found = [f for f in report.findings if f.problem.code == "IVR602"]
        assert len(found) == 1, report.problems
        p = found[0].problem
        assert (p.line, p.col) == (10, 3)
        assert "after press \"1\" the call ends without a goodbye" in p.message
        assert extra in p.message


def _mangle(mutate: object) -> object:
    def step(c: Compiled, call: CallState, ev: Event) -> tuple[CallState, list[Action]]:
        after, actions = engine.step(c, call, ev)
        if after.state == "menu":
            actions = [mutate(a) if isinstance(a, Gather) else a  # type: ignore[operator]
                       for a in actions]
        return after, actions
    return step


def test_ivr604_bad_twiml_needs_a_broken_engine() -> None:
    control = _mangle(lambda g: replace(g, prompts=(Say("press\x0b1"),)))
    falls = _mangle(lambda g: replace(g, fallthrough=True))
    for broken, words in ((control, "is not well-formed XML"),
                          (falls, "fall-through Gather that is not followed by a Record")):
        report = run(SMALL, step=broken)
        found = [f for f in report.findings if f.problem.code == "IVR604"]
        assert found and words in found[0].problem.message, report.problems


def test_ivr606_engine_error_is_a_problem_with_a_counterexample() -> None:
    def raises(c: Compiled, call: CallState, ev: Event) -> tuple[CallState, list[Action]]:
        if ev.kind is EventKind.SPEECH and ev.text == "yes":
            raise ValueError("boom")
        return engine.step(c, call, ev)

    report = run(SMALL, step=raises)
    f = next(f for f in report.findings if f.problem.code == "IVR606")
    assert "say \"yes\" makes the engine raise ValueError: boom" in f.problem.message
    assert f.transcript.rstrip().endswith('- say: "yes"')


def test_ivr608_a_leg_report_that_dials_again_is_found() -> None:
    """The person's phone ringing must change nothing the caller hears: an engine that
    treated it as input (and rang the person again, as `on_human` does for a key) is caught."""
    def redials(c: Compiled, call: CallState, ev: Event) -> tuple[CallState, list[Action]]:
        if ev.kind is EventKind.LEG and ev.status == "ringing":
            return engine.step(c, call, Event.press("9", ev.now))  # "connect again"
        return engine.step(c, call, ev)

    report = run(ROOT / "flows" / "card-services.yaml", step=redials)
    f = next(f for f in report.findings if f.problem.code == "IVR608")
    assert 'leg "ringing"' in f.problem.message
    assert '  - leg: "ringing"' in f.transcript                   # a replayable step
    clean = run(ROOT / "flows" / "card-services.yaml", step=engine.step)
    assert "IVR608" not in codes(clean)


def test_ivr607_limit_fails_clearly() -> None:
    report = run(ROOT / "flows" / "card-services.yaml", limit=5, step=engine.step)
    assert not report.complete and report.configurations == 5
    assert "IVR607" in codes(report)
    assert "(incomplete: --explore-limit)" in report.summary()


# --- shipped flows, generated flows ----------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_flow_explores_clean(path: Path) -> None:
    report = run(path)
    assert report.complete and report.findings == [], "\n".join(
        f.problem.message + "\n" + f.transcript for f in report.findings)


def test_the_issue_13_bug_is_found_with_its_shortest_counterexample() -> None:
    report = run(ROOT / "flows" / "card-services.yaml", step=the_old_offer_bug)
    f = next(f for f in report.findings if f.problem.code == "IVR601")
    steps = [line for line in f.transcript.splitlines() if line.startswith("  - ")
             and "expect" not in line]
    assert steps == ['  - press: "0"', '  - dial_result: "busy"', '  - press: "0"']
    assert "Your message is saved" in f.transcript
    assert {"IVR601", "IVR605"} <= codes(report)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_flows())
def test_generated_flows_explore_clean(text: str) -> None:
    checked = check_text(text, "random.yaml")
    assert checked.flow is not None and checked.ok()
    c = compiled(checked.flow)
    report = explore(c, checked.source)
    assert report.complete
    assert [f.problem.message for f in report.findings] == [], text


# --- counterexamples replay ------------------------------------------------------------------

def test_counterexample_replays_and_fails_once_the_flow_is_fixed(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(SMALL, flows / "f.yaml")
    out = CliRunner().invoke(main, ["validate", "--explore", "--counterexamples",
                                    str(tmp_path / "cx"), str(flows)])
    assert out.exit_code == 1
    written = sorted((tmp_path / "cx").glob("*.yaml"))
    assert written
    menu = [p for p in written if "'menu'" in p.read_text()]
    assert menu, [p.read_text() for p in written]
    replay = ["replay", *map(str, menu), "--flows-dir"]
    result = CliRunner().invoke(main, [*replay, str(flows)])
    assert result.exit_code == 0, result.output  # reproduces the problem
    fixed = tmp_path / "fixed"  # another directory: replay loads a catalog once per process
    fixed.mkdir()
    text = (flows / "f.yaml").read_text().replace("Your message is saved.", "See you soon.")
    (fixed / "f.yaml").write_text(text)
    result = CliRunner().invoke(main, [*replay, str(fixed)])
    assert result.exit_code == 1 and "expected says" in result.output  # fixed: it fails


# --- the CLI ---------------------------------------------------------------------------------

def test_cli_prints_figures_problems_and_counterexamples() -> None:
    result = CliRunner().invoke(main, ["validate", "--explore", str(SMALL)])
    assert result.exit_code == 1
    assert re.search(r"explored .*IVR605-saved-without-recording.yaml: \d+ configurations, "
                     r"[\d,]+ transitions in \d+\.\d\d s", result.output)
    assert f"{SMALL}:10:3: error[IVR605]" in result.output
    assert "    flow: explore-ivr605\n" in result.output  # the transcript, indented


def test_cli_clean_exit_0() -> None:
    result = CliRunner().invoke(main, ["validate", "--explore", str(ROOT / "flows")])
    assert result.exit_code == 0, result.output
    assert "2 file(s) checked: 0 error(s), 0 warning(s)" in result.output
    assert result.output.count("explored ") == 2


@pytest.mark.parametrize("fmt", ["parsable", "github", "json"])
def test_cli_formats(fmt: str) -> None:
    result = CliRunner().invoke(
        main, ["validate", "--explore", "--format", fmt, str(SMALL)])
    assert result.exit_code == 1
    assert "explored " in result.stderr and "explored " not in result.stdout
    if fmt == "parsable":
        assert f"{SMALL}:10:3: error[IVR605] state 'menu' (open)" in result.stdout
    elif fmt == "github":
        assert f"::error file={SMALL},line=10,col=3,title=IVR605::" in result.stdout
    else:
        rows = json.loads(result.stdout)
        row = next(r for r in rows if r["code"] == "IVR605" and r["line"] == 10)
        assert row["counterexample"].startswith("# ivr validate --explore: counterexample")


def test_cli_explore_limit() -> None:
    result = CliRunner().invoke(main, ["validate", "--explore", "--explore-limit", "3",
                                       str(ROOT / "flows" / "clinic-appointments.yaml")])
    assert result.exit_code == 1
    assert "error[IVR607] the exploration stopped at 3 configurations" in result.output


# --- the parts -------------------------------------------------------------------------------

def test_clock_classes_follow_the_hours() -> None:
    c, _ = load(ROOT / "flows" / "card-services.yaml")
    hours = c.flow.hours
    moments = clock_classes(c.flow)
    assert list(moments) == ["open", "closed", "holiday"]
    assert is_open(hours, moments["open"]) and not is_open(hours, moments["closed"])
    assert not is_open(hours, moments["holiday"])
    assert moments["holiday"].date() in holiday_calendar("US")
    assert moments["closed"].date() not in holiday_calendar("US")
    plain = check_text(SMALL.read_text()).flow
    assert plain is not None and list(clock_classes(plain)) == ["open"]


def test_configuration_drops_bookkeeping_and_keeps_new_fields() -> None:
    a = CallState("CA1", "f", "v", state="menu", no_input=1)
    b = replace(a, sid="CA2", turn=9, path=["x"], edges=["e"], heard="h", reason="r",
                slots={"pin": "1"}, whisper="w", started="s", outcome="human")
    assert configuration(a) == configuration(b)
    assert configuration(a) != configuration(replace(a, no_input=2))

    @dataclass
    class Grown(CallState):
        offer: str = ""

    g = Grown("CA1", "f", "v", state="menu")
    assert configuration(g) != configuration(replace(g, offer="callback"))


def test_inputs_only_where_the_call_can_receive_them() -> None:
    c, _ = load(SMALL)
    call = CallState("CA1", c.flow.id, "", state="menu")
    kinds = {i.kind for i in alphabet(c, call, waiting_after(
        [Dial("+15551230000")], call, Waiting(), None), False)}
    assert kinds == {"dial_result", "leg", "hangup"}   # the person's phone reports, too
    kinds = {i.kind for i in alphabet(c, call, waiting_after([Record()], call, Waiting(),
                                                              None), False)}
    assert kinds == {"recording", "record", "hangup"}
    dtmf = waiting_after([Gather((), "dtmf", 1, "", 4, fallthrough=True), Record()], call,
                         Waiting(), None)
    kinds = {i.kind for i in alphabet(c, call, dtmf, False)}
    assert kinds == {"press", "recording", "record", "hangup"}  # no speech, no silence
    assert alphabet(c, call, waiting_after([Hangup()], call, Waiting(), None), False) == []
    human = [i for i in alphabet(c, call, waiting_after([Gather(())], call, Waiting(), None),
                                 False) if i.human]
    assert [(i.kind, i.value) for i in human] == [("press", "0"), ("say", "agent"),
                                                  ("say", "operator")]


def test_queue_ticks_while_enqueued() -> None:
    c, _ = load(ROOT / "flows" / "clinic-appointments.yaml")
    call = CallState("CA1", c.flow.id, "", state=HUMAN)
    queued = waiting_after([Say("hold"), Enqueue("front_desk")], call, Waiting(), None)
    assert queued.queue == -1
    assert not any(i.kind == "wait" for i in alphabet(c, call, queued, False))
    ticks = [i for i in alphabet(c, call, queued, True) if i.kind == "wait"]
    assert [i.value for i in ticks] == [(3, 0), (2, 90), (8, 660)]

    report = explore(c, None)
    assert report.findings == [], [f.problem.message for f in report.findings]
    assert report.transitions > explore(c, None, ticks=False).transitions


def test_input_steps_are_transcript_steps() -> None:
    assert Input("press", "0").step() == {"press": "0"}
    assert Input("say", "lost my card", 0.2).step() == {"say": "lost my card",
                                                         "confidence": 0.2}
    assert Input("wait", (8, 660)).step() == {"wait": {"position": 8, "seconds": 660}}
    assert Input("record", "none").label() == "no recording (duration 0)"


def test_hostile_speech_extends_the_alphabet_and_transcripts_escape_it() -> None:
    c, source = load(ROOT / "flows" / "card-services.yaml")
    call = CallState("CA1", c.flow.id, "", state="main_menu")
    speech = waiting_after([Gather(())], call, Waiting(), None)
    extra = [i for i in hostile(c, call, speech, False) if i not in alphabet(c, call, speech,
                                                                              False)]
    assert [i.value for i in extra] == list(HOSTILE)
    assert quote("lost\x0bmy card") == '"lost\\u000bmy card"'
    report = explore(c, source, inputs=hostile, step=engine.step)  # type: ignore[arg-type]
    flows = {c.flow.id: c.flow}
    assert report.findings == []  # the whisper keeps only what XML can carry (issue 13)
    broken = explore(c, source, inputs=hostile, step=_raw_whisper)  # type: ignore[arg-type]
    assert broken.findings and all(f.problem.code == "IVR604" for f in broken.findings)
    for f in broken.findings:
        assert "whisper" in f.problem.message, f.problem
        assert parse_transcript(f.transcript, "cx.yaml", flows).problems == []


def _raw_whisper(c: Compiled, call: CallState, ev: Event) -> tuple[CallState, list[Action]]:
    """The engine before its whisper was cleaned: the caller's words as they came."""
    after, actions = engine.step(c, call, ev)
    if ev.kind is EventKind.SPEECH and after.whisper:
        actions = [replace(a, whisper=a.whisper + " " + ev.text) if isinstance(a, Dial) else a
                   for a in actions]
    return after, actions
