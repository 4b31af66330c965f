"""Replay drives engine.step through transcripts: diffs, limits, coverage, JUnit, -j."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.flowlang.catalog import Catalog
from ivr.qa.drivers import EngineDriver, Observed, keypad
from ivr.qa.http_driver import HttpDriver, Response, Transport
from ivr.qa.replay import (
    Options,
    Result,
    catalog_for,
    coverage,
    flow_coverage,
    junit_xml,
    run,
    run_file,
    run_paths,
)
from ivr.qa.transcript import Step, load_transcript, parse_transcript
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
                                    "--fail-under-transitions", "100", "tests/transcripts"])
    assert out.exit_code == 0, out.output
    assert "card-services: states 100.0% (22/22), transitions 100.0%" in out.output
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
        def send(self, s: Step) -> Observed:
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
    assert len(flow_coverage(c).states) == len(c.flow.states) + 2   # + human, the offer


def test_fail_under_and_coverage_listing(tmp_path: Path) -> None:
    replay_text(tmp_path, "  - press: '0'\n")
    out = CliRunner().invoke(main, ["replay", "--flows-dir", str(ROOT / "flows"), "--coverage",
                                    "--fail-under", "90", str(tmp_path)])
    assert out.exit_code == 1
    assert "states never entered: after_hours," in out.output
    assert "transitions never taken:" in out.output and "main_menu -intent_" in out.output
    assert "state coverage of card-services is" in out.output
    out = CliRunner().invoke(main, ["replay", "--flows-dir", str(ROOT / "flows"),
                                    "--fail-under-transitions", "50", str(tmp_path)])
    assert out.exit_code == 1 and "transition coverage of card-services is" in out.output


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


# --- --via: the same transcripts against the real web app ----------------------------------

VIA_TOKEN = "via-test-token"
OPEN_ISO = "2026-11-20T14:05:00-05:00"


def via_app(redis_url: str, clock: str = OPEN_ISO) -> Any:
    from ivr.app import create_app

    return create_app({"redis_url": redis_url, "flows_dir": str(ROOT / "flows"),
                       "clock": clock, "twilio": {"auth_token": VIA_TOKEN},
                       "spool_dir": tempfile.mkdtemp(prefix="ivr-spool-"), "TESTING": True})


def client_transport(app: Any) -> Transport:
    client = app.test_client()

    def post(url: str, params: dict[str, str], headers: dict[str, str]) -> Response:
        r = client.post(url, data=params, headers=headers)
        return r.status_code, dict(r.headers), r.get_data(as_text=True)

    return post


def via(app: Any, path: Path, token: str = VIA_TOKEN) -> Result:
    cat = catalog_for(FLOWS.flows)
    loaded = load_transcript(str(path), {k: c.flow for k, c in cat.current.items()})
    assert loaded.transcript is not None, loaded.problems
    driver = HttpDriver("http://localhost", loaded.transcript.flow, token, client_transport(app))
    return run(driver, loaded.transcript)


@pytest.mark.redis
def test_via_replays_open_hours_transcripts_over_signed_http(redis_url: str) -> None:
    app = via_app(redis_url)
    files = [f for f in sorted((TRANSCRIPTS / "card-services").glob("*.yaml"))
             if OPEN_ISO in f.read_text()]
    assert len(files) > 20
    results = [via(app, f) for f in files]
    assert [r.report() for r in results if not r.passed] == []
    # The server reports state and outcome (X-IVR-State / X-IVR-Outcome), so they are checked.
    assert [r.file for r in results if r.outcome is None] == []


@pytest.mark.redis
def test_via_closed_clock_and_wrong_expectation_diff(redis_url: str, tmp_path: Path) -> None:
    app = via_app(redis_url, "2026-11-22T14:05:00-05:00")
    assert via(app, TRANSCRIPTS / "card-services" / "after-hours-message.yaml").passed
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD.format(name="bad") + "  - press: '2'\n  - expect: {says: 'PIN'}\n")
    r = via(app, bad)
    assert "+ actual   says: Please leave your name, number" in r.report()
    assert "(actions: gather, record, redirect)" in r.report()


@pytest.mark.redis
def test_via_bad_signature_is_a_failure(redis_url: str) -> None:
    r = via(via_app(redis_url), TRANSCRIPTS / "card-services" / "zero-during-welcome.yaml",
            token="wrong")
    assert not r.passed and "answered HTTP 403" in r.report()


@pytest.mark.redis
def test_cli_via_a_real_http_server(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, via_app(redis_url), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", VIA_TOKEN)
        out = CliRunner().invoke(main, [
            "replay", "--flows-dir", str(ROOT / "flows"), "--via",
            f"http://127.0.0.1:{server.server_port}",
            str(TRANSCRIPTS / "card-services" / "found-card.yaml"),
            str(TRANSCRIPTS / "card-services" / "voicemail-after-no-answer.yaml")])
    finally:
        server.shutdown()
        thread.join(5)
    assert out.exit_code == 0, out.output
    assert "2 transcript(s): 2 passed, 0 failed" in out.output


def test_keypad_is_what_twilio_sends() -> None:
    assert keypad("250#", 6, "#") == "250"
    assert keypad("0#", 1, "") == "0"
    assert keypad("123456", 4, "#") == "1234"
    assert keypad("#", 4, "#") == ""
