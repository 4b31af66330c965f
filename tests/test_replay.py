"""Replay drives engine.step through transcripts: diffs, limits, coverage, JUnit, -j."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from ivr.catalog import Catalog
from ivr.cli import main
from ivr.replay import (
    EngineDriver,
    Options,
    Result,
    Turn,
    coverage,
    flow_coverage,
    junit_xml,
    run,
    run_file,
    run_paths,
)
from ivr.transcript import Step, parse_transcript
from tests.conftest import ROOT

TRANSCRIPTS = ROOT / "tests" / "transcripts"
FLOWS = Options((str(ROOT / "flows"),))
HEAD = 'flow: card-services\nname: {name}\nclock: "2026-11-20T14:05:00-05:00"\nsteps:\n'


def replay_text(tmp_path: Path, body: str, name: str = "t") -> Result:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HEAD.format(name=name) + body)
    return run_file(str(path), FLOWS)


def test_every_shipped_transcript_passes() -> None:
    results = run_paths([str(TRANSCRIPTS)], FLOWS)
    assert len(results) >= 30
    assert [r.report() for r in results if not r.passed] == []


def test_cli_full_state_coverage_of_shipped_transcripts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = CliRunner().invoke(main, ["replay", "--coverage", "--fail-under", "100",
                                    "tests/transcripts"])
    assert out.exit_code == 0, out.output
    assert "card-services: states 100.0% (21/21)" in out.output
    assert "clinic-appointments: states 100.0%" in out.output
    assert " 0 failed" in out.output


def test_wrong_state_shows_a_readable_diff(tmp_path: Path) -> None:
    r = replay_text(tmp_path, '  - say: "I found somebody\'s credit card on the sidewalk"\n'
                              "  - expect: {state: lost_card}\n")
    assert not r.passed and len(r.failures) == 1
    text = r.report()
    assert (f"{tmp_path}/t.yaml:6: step 2: expect {{state: 'lost_card'}} after say \"I found "
            "somebody's credit card on the sidewalk\" (step 1)") in text
    assert "- expected state: lost_card" in text and "+ actual   state: other" in text
    assert "caller heard in state 'other' (actions: gather):" in text
    assert "🔊 No problem. In a few words" in text


def test_says_and_action_mismatch(tmp_path: Path) -> None:
    r = replay_text(tmp_path, "  - press: '2'\n  - expect: {says: 'goodbye', action: dial}\n")
    keys = [k for k, _want, _got in r.failures[0].diff]
    assert keys == ["says", "action"]
    assert "+ actual   action: gather" in r.report()


def test_says_is_case_and_space_insensitive(tmp_path: Path) -> None:
    r = replay_text(tmp_path, "  - expect: {says: 'FOR A LOST   or stolen card'}\n")
    assert r.passed, r.report()


def test_outcome_mismatch(tmp_path: Path) -> None:
    r = replay_text(tmp_path, "  - press: '0'\noutcome: voicemail\n")
    assert "- expected outcome: voicemail" in r.report()
    assert "+ actual   outcome: human" in r.report()


def test_caller_acting_after_the_call_ended_fails(tmp_path: Path) -> None:
    r = replay_text(tmp_path, "  - press: '2'\n  - press: '12345'\n  - press: '3'\n"
                              "  - press: '1'\n")
    assert "the call already ended (outcome completed)" in r.report()
    assert r.failures[0].step == 4


def test_runaway_transcript_is_cut_at_the_step_limit(tmp_path: Path) -> None:
    loop = "  - press: '5'\n  - press: '1234'\n  - press: '1'\n"   # activate, then menu
    r = replay_text(tmp_path, loop * 100)
    assert not r.passed and r.steps == 200
    assert "cut at the step limit (200 engine steps)" in r.report()
    assert r.failures[0].step == 200


def test_cli_reports_the_runaway_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").write_text(HEAD.format(name="loop") + "  - silence: true\n"
                                        "  - press: '1'\n" * 10)
    out = CliRunner().invoke(main, ["replay", "--flows-dir", str(ROOT / "flows"),
                                    "--max-steps", "5", str(tmp_path)])
    assert out.exit_code == 1
    assert "cut at the step limit (5 engine steps)" in out.output


def test_engine_errors_are_failures_not_crashes(catalog: Catalog) -> None:
    c = catalog.get("card-services")
    assert c is not None
    t = parse_transcript(HEAD.format(name="x") + "  - press: '1'\n").transcript
    assert t is not None

    class Broken(EngineDriver):
        def send(self, s: Step) -> Turn:
            self.call.state = "nowhere"     # a corrupt call: the engine raises
            return super().send(s)

    r = run(Broken(c), t)
    assert not r.passed
    assert "error: KeyError" in r.report() and "nowhere" in r.report()


def test_coverage_unions_states_beyond_the_path_cap(tmp_path: Path, catalog: Catalog) -> None:
    r = replay_text(tmp_path, "  - press: '5'\n  - press: '1234'\n  - press: '1'\n" * 12)
    assert r.passed, r.report()
    assert {"welcome", "check_hours", "activated"} <= r.states
    assert "welcome>next>check_hours" in r.edges and ">start>welcome" in r.edges
    c = catalog.get("card-services")
    assert c is not None
    cov = coverage([r], catalog)["card-services"]
    assert cov.hit_states == {"welcome", "check_hours", "main_menu", "activate", "activated",
                              "anything_else"}
    assert "goodbye" in cov.missing_states and 0 < cov.edge_pct() < 100
    assert len(flow_coverage(c).states) == len(c.flow.states) + 1   # + human


def test_fail_under_and_coverage_listing(tmp_path: Path) -> None:
    replay_text(tmp_path, "  - press: '0'\n")
    out = CliRunner().invoke(main, ["replay", "--flows-dir", str(ROOT / "flows"), "--coverage",
                                    "--fail-under", "90", str(tmp_path)])
    assert out.exit_code == 1
    assert "states never entered: after_hours," in out.output
    assert "transitions never taken:" in out.output and "main_menu -intent_" in out.output
    assert "state coverage of card-services is" in out.output


def test_parallel_results_keep_input_order() -> None:
    one = run_paths([str(TRANSCRIPTS)], FLOWS, jobs=1)
    two = run_paths([str(TRANSCRIPTS)], FLOWS, jobs=2)
    assert [r.file for r in one] == [r.file for r in two]
    assert [r.report() for r in one] == [r.report() for r in two]
    assert [r.states for r in one] == [r.states for r in two]


def test_junit_xml_has_a_testcase_per_transcript(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD.format(name="ok") + "  - press: '0'\n")
    (tmp_path / "b.yaml").write_text(HEAD.format(name="bad") + "  - expect: {state: human}\n")
    (tmp_path / "c.yaml").write_text("flow: card-services\nsteps: 3\n")
    junit = tmp_path / "out" / "junit.xml"
    junit.parent.mkdir()
    out = CliRunner().invoke(main, ["replay", "--flows-dir", str(ROOT / "flows"), "-j", "2",
                                    "--junit", str(junit), str(tmp_path)])
    assert out.exit_code == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3"
    assert suite.get("failures") == "1" and suite.get("errors") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["ok", "bad", str(tmp_path / "c.yaml")]
    failure = cases[1].find("failure")
    assert failure is not None and "+ actual   state: main_menu" in failure.get("message", "")
    error = cases[2].find("error")
    assert error is not None and error.get("type") == "IVR501"


def test_junit_of_nothing_is_valid() -> None:
    assert ET.fromstring(junit_xml([]).split("?>", 1)[1]).tag == "testsuites"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["replay"]).exit_code == 2
    assert runner.invoke(main, ["replay", str(tmp_path / "missing")]).exit_code == 2
    out = runner.invoke(main, ["replay", str(tmp_path)])
    assert out.exit_code == 2 and "no transcripts" in out.output
    assert runner.invoke(main, ["replay", "-j", "0", str(tmp_path)]).exit_code == 2
