"""``ivr validate``: every output format, --strict, exit codes 0/1/2, directories walked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivr.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent.parent / "flows"
TYPO = FIXTURES / "IVR201-unknown-target.yaml"
WARN = FIXTURES / "W306-unreachable.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


def test_shipped_flows_are_clean_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run("--strict")
    assert result.exit_code == 0, result.output
    assert "file(s) checked: 0 error(s), 0 warning(s)" in result.output


def test_standard_shows_source_line_caret_and_fix() -> None:
    result = run(str(TYPO))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (f"{TYPO}:17:11: error[IVR201] state 'info': next goes to unknown "
                        "state 'mneu'")
    assert lines[1:5] == ["   |", "17 |     next: mneu", "   |           ^~~~",
                          "   = expected one of: 'human', 'info', 'menu'  "
                          "(did you mean 'menu'?)"]
    assert "1 file(s) checked: 1 error(s), 0 warning(s)" in result.output


def test_color_only_when_asked() -> None:
    assert "\x1b[" not in run(str(TYPO)).output
    assert "\x1b[1;31m" in run("--color", str(TYPO)).output


def test_parsable_is_one_line_per_problem() -> None:
    result = run("--format", "parsable", str(TYPO))
    assert result.exit_code == 1
    assert result.output == (f"{TYPO}:17:11: error[IVR201] state 'info': next goes to "
                             "unknown state 'mneu'\n")


def test_github_annotations() -> None:
    result = run("--format", "github", str(TYPO), str(WARN))
    assert result.exit_code == 1
    error, warning = result.output.splitlines()
    assert error.startswith(f"::error file={TYPO},line=17,col=11,title=IVR201::state 'info'")
    assert "did you mean 'menu'?" in error
    assert warning.startswith(f"::warning file={WARN},line=18,col=3,title=W306::")


def test_json_parses() -> None:
    result = run("--format", "json", str(TYPO), str(WARN))
    rows = json.loads(result.output)
    assert [(r["code"], r["severity"], r["line"], r["col"]) for r in rows] == [
        ("IVR201", "error", 17, 11), ("W306", "warning", 18, 3)]
    assert rows[0]["path"] == "states.info.next"


def test_json_of_clean_files_is_an_empty_list() -> None:
    result = run("--format", "json", str(ROOT / "flows"))
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_warnings_pass_unless_strict() -> None:
    assert run(str(WARN)).exit_code == 0
    result = run("--strict", str(WARN))
    assert result.exit_code == 1
    assert "warning[W306]" in result.output


def test_nonexistent_path_is_a_usage_error() -> None:
    result = run("no/such/flow.yaml")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_directory_without_flows_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = run(str(tmp_path))
    assert result.exit_code == 2
    assert "no flow files" in result.output


def test_directories_are_walked(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(ROOT / "flows" / "card-services.yaml", tmp_path / "a" / "ok.yaml")
    shutil.copy(TYPO, tmp_path / "a" / "b" / "bad.yml")
    (tmp_path / "a" / "README.md").write_text("not a flow")
    result = run("--format", "parsable", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{tmp_path / 'a' / 'b' / 'bad.yml'}:17:11: error[IVR201] state 'info': next goes to "
        "unknown state 'mneu'"]


def test_every_fixture_fails_or_warns() -> None:
    result = run("--strict", "--format", "json", str(FIXTURES))
    assert result.exit_code == 1
    codes = {r["code"] for r in json.loads(result.output)}
    expected = {p.name.split("-")[0] for p in FIXTURES.glob("*.yaml")}
    assert codes == expected | {"IVR209"}  # the fixtures are variants of one flow id


def test_problems_without_a_line_print_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\x00\x01")
    result = run(str(path))
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}: error[IVR007] file is binary, not YAML text\n")
    assert "  = a flow file is UTF-8 text" in result.output


def test_two_files_with_one_flow_id_are_an_error_at_both(tmp_path: Path) -> None:
    text = (ROOT / "flows" / "card-services.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "copy.yaml").write_text(text)
    out = CliRunner().invoke(main, ["validate", "--format", "parsable", str(tmp_path)])
    assert out.exit_code == 1
    lines = [line for line in out.output.splitlines() if "IVR209" in line]
    assert len(lines) == 2 and any("a.yaml:15:7" in line and "copy.yaml:15:7" in line
                                   for line in lines)
    sim = CliRunner().invoke(main, ["simulate", "card-services", "--flows-dir", str(tmp_path)],
                             input="hangup\n")
    assert sim.exit_code == 1 and "IVR209" in sim.output
