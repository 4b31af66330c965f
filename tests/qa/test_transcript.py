"""Transcripts load like flows: positions, did-you-mean, and one code per mistake."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from ivr.cli import main
from ivr.flowlang.catalog import Catalog
from ivr.flowlang.diagnostics import format_standard
from ivr.qa.transcript import Loaded, parse_transcript
from ivr.qa.transcript_schema import TRANSCRIPT_SCHEMA
from tests.conftest import ROOT

GOOD = """\
flow: card-services
name: found card
clock: "2026-11-20T14:05:00-05:00"
steps:
  - expect: {state: main_menu, says: "lost or stolen"}
  - say: "I found somebody's credit card"
    confidence: 0.9
  - expect: {state: other, action: gather}
  - dial_result: no-answer
  - recording: true
  - silence: true
  - hangup: true
outcome: other
"""


def load(text: str, catalog: Catalog) -> Loaded:
    return parse_transcript(text, "t.yaml", {k: c.flow for k, c in catalog.current.items()})


def codes(loaded: Loaded) -> list[tuple[str, int, int]]:
    return [(p.code, p.line, p.col) for p in loaded.problems]


def test_good_transcript_builds_steps(catalog: Catalog) -> None:
    loaded = load(GOOD, catalog)
    assert loaded.problems == []
    t = loaded.transcript
    assert t is not None and t.flow == "card-services" and t.outcome == "other"
    assert t.clock == datetime.fromisoformat("2026-11-20T14:05:00-05:00")
    kinds = [s.kind for s in t.steps]
    assert kinds == ["", "say", "", "dial_result", "recording", "silence", "hangup"]
    assert t.steps[1].confidence == 0.9 and t.steps[1].line == 6
    assert t.steps[0].expect is not None and t.steps[0].expect.says == "lost or stolen"


def test_naive_clock_is_read_in_the_flow_timezone(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nclock: 2026-11-22T14:05:00\nsteps: []\n", catalog)
    assert loaded.transcript is not None and loaded.transcript.clock is not None
    assert str(loaded.transcript.clock.tzinfo) == "America/New_York"


def test_unknown_flow_suggests_the_closest(catalog: Catalog) -> None:
    loaded = load("flow: card-servics\nsteps: []\n", catalog)
    assert codes(loaded) == [("IVR505", 1, 7)]
    assert "did you mean 'card-services'" in loaded.problems[0].hint


def test_unknown_key_with_did_you_mean(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps:\n  - press: '1'\n  - expcet: {state: x}\n",
                  catalog)
    assert codes(loaded) == [("IVR502", 4, 5)]
    assert "did you mean 'expect'" in loaded.problems[0].hint


def test_unknown_expect_key_and_top_key(catalog: Catalog) -> None:
    loaded = load("flow: card-services\noutcom: human\nsteps:\n  - expect: {sate: x}\n",
                  catalog)
    assert codes(loaded) == [("IVR502", 2, 1), ("IVR502", 4, 14)]


def test_unquoted_digits_are_a_type_error_with_the_fix(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps:\n  - press: 010\n", catalog)
    assert codes(loaded) == [("IVR501", 3, 12)]
    p = loaded.problems[0]
    assert p.message == "expected text, found a number"
    assert "quote it: '010'" in p.hint and "as 8" in p.hint


def test_wrong_types(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps:\n  - silence: false\n  - say: hi\n"
                  "    confidence: high\n", catalog)
    assert [c for c, _l, _c in codes(loaded)] == ["IVR501", "IVR501"]
    assert "steps is" not in loaded.problems[0].message


def test_steps_must_be_a_list(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps: {press: '1'}\n", catalog)
    assert codes(loaded) == [("IVR501", 2, 8)]
    assert loaded.problems[0].message == "expected a list, found a mapping"


def test_bad_enum_values_list_the_choices(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps:\n  - dial_result: no-anwser\n"
                  "  - expect: {action: dail}\noutcome: humna\n", catalog)
    assert [c for c, *_ in codes(loaded)] == ["IVR504"] * 3
    hints = " ".join(p.hint for p in loaded.problems)
    assert "'no-answer'" in hints and "'dial'" in hints and "'human'" in hints


def test_missing_keys(catalog: Catalog) -> None:
    loaded = load("name: nothing\n", catalog)
    assert sorted(p.message for p in loaded.problems) == [
        "missing required key 'flow'", "missing required key 'steps'"]


def test_steps_after_hangup(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps:\n  - hangup: true\n  - expect: {state: __end__}\n"
                  "  - press: '1'\n", catalog)
    assert codes(loaded) == [("IVR507", 5, 5)]
    assert "after the caller hung up (step 1)" in loaded.problems[0].message


def test_two_actions_in_one_step_and_empty_step(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps:\n  - press: '1'\n    say: one\n  - {}\n"
                  "  - press: '2'\n    confidence: 0.5\n", catalog)
    assert [c for c, *_ in codes(loaded)] == ["IVR506"] * 3
    assert codes(loaded)[0] == ("IVR506", 4, 5)


def test_expect_of_an_unknown_state(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps:\n  - expect: {state: main_mneu}\n", catalog)
    assert codes(loaded) == [("IVR508", 3, 21)]
    assert "did you mean 'main_menu'" in loaded.problems[0].hint


def test_bad_clock(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nclock: next tuesday\nsteps: []\n", catalog)
    assert codes(loaded) == [("IVR509", 2, 8)]


@pytest.mark.parametrize("text, code", [
    ("flow: card-services\nsteps: [\n", "IVR001"),
    ("flow: a\nflow: b\nsteps: []\n", "IVR002"),
    ("\tflow: x\n", "IVR005"),
    ("", "IVR006"),
    ("- just\n- a list\n", "IVR501"),
])
def test_bad_yaml(catalog: Catalog, text: str, code: str) -> None:
    loaded = load(text, catalog)
    assert loaded.transcript is None
    assert loaded.problems[0].code == code and loaded.problems[0].line >= 1


def test_problem_shows_the_line_and_caret(catalog: Catalog) -> None:
    loaded = load("flow: card-services\nsteps:\n  - press: '1'\n  - expcet: {state: x}\n",
                  catalog)
    text = format_standard(loaded.problems[0], loaded.source.lines)
    assert text.splitlines()[0] == "t.yaml:4:5: error[IVR502] unknown key 'expcet'"
    assert "4 |   - expcet: {state: x}" in text and "^~~~~~" in text


def test_schema_validates_shipped_transcripts_and_is_printed() -> None:
    validator = Draft202012Validator(TRANSCRIPT_SCHEMA)
    import yaml

    files = sorted((ROOT / "tests" / "transcripts").rglob("*.yaml"))
    assert files
    for f in files:
        assert not list(validator.iter_errors(yaml.safe_load(f.read_text()))), f
    out = CliRunner().invoke(main, ["schema", "--transcript"])
    assert out.exit_code == 0
    assert json.loads(out.output)["title"] == "ivr QA transcript"


def test_cli_reports_bad_transcripts_with_positions(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    (tmp_path / "nope.yaml").write_text("flow: no-such-flow\nsteps:\n  - press: '1'\n")
    (tmp_path / "late.yaml").write_text("flow: card-services\nsteps:\n  - hangup: true\n"
                                        "  - press: '1'\n")
    (tmp_path / "broken.yaml").write_text("flow: card-services\nsteps:\n  - press: '1\n")
    out = CliRunner().invoke(main, ["replay", str(tmp_path)])
    assert out.exit_code == 1
    assert f"{tmp_path}/nope.yaml:1:7: error[IVR505] unknown flow 'no-such-flow'" in out.output
    assert f"{tmp_path}/late.yaml:4:5: error[IVR507]" in out.output
    assert f"{tmp_path}/broken.yaml:4:1: error[IVR001] YAML syntax error" in out.output
    assert "3 transcript(s): 0 passed, 3 failed" in out.output
