"""One bad-flow fixture per problem code, each asserting (code, line, col) exactly.

Every file in ``tests/flows/`` starts with ``# expect: CODE at LINE:COL`` and a comment
saying what is wrong. The checker must report that code at that position and no other
code, so a fixture proves one rule and only that rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.flowlang.catalog import check_file
from ivr.flowlang.diagnostics import Problem

FLOWS = Path(__file__).parent.parent / "flows"
FIXTURES = sorted(FLOWS.glob("*.yaml"))
_EXPECT = re.compile(rb"^# expect: ([A-Z]+\d+) at (\d+):(\d+)")

ALL_CODES = {
    "IVR001", "IVR002", "IVR003", "IVR004", "IVR005", "IVR006", "IVR007", "IVR008",
    "IVR101", "IVR102", "IVR103", "IVR104", "IVR105", "IVR106",
    "IVR201", "IVR202", "IVR203", "IVR204", "IVR206", "W206", "IVR207", "IVR208",
    "IVR301", "IVR302", "IVR303", "IVR304", "W304", "IVR305", "W306",
    "IVR401", "IVR402", "IVR403", "IVR404", "IVR405", "IVR406", "IVR407", "W406",
}


def expected(path: Path) -> tuple[str, int, int]:
    """The (code, line, col) promised by the fixture's first line."""
    m = _EXPECT.match(path.read_bytes())
    assert m, f"{path.name} must start with '# expect: CODE at LINE:COL'"
    return m.group(1).decode(), int(m.group(2)), int(m.group(3))


def found(path: Path) -> list[Problem]:
    return check_file(str(path)).problems


def test_every_code_has_a_fixture() -> None:
    assert {expected(p)[0] for p in FIXTURES} == ALL_CODES


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_reports_code_at_position(path: Path) -> None:
    code, line, col = expected(path)
    assert path.stem.startswith(code)
    problems = found(path)
    assert (code, line, col) in [(p.code, p.line, p.col) for p in problems], problems
    assert {p.code for p in problems} == {code}, problems


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_messages_are_complete(path: Path) -> None:
    """Every problem names the file, says what is wrong, and (except syntax) the fix."""
    for p in found(path):
        assert p.file == str(path) and p.message
        assert p.hint or p.code in {"IVR002", "IVR001"}, p


@pytest.mark.parametrize(("stem", "suggestion"), [
    ("IVR103-unknown-key", "did you mean 'intents'?"),
    ("IVR201-unknown-target", "did you mean 'menu'?"),
    ("IVR202-unknown-start", "expected one of: 'info', 'menu'"),
])
def test_hints_suggest_the_nearest_name(stem: str, suggestion: str) -> None:
    hints = [p.hint for p in found(FLOWS / f"{stem}.yaml")]
    assert any(suggestion in h for h in hints), hints


def test_octal_key_explains_what_yaml_read() -> None:
    [p] = found(FLOWS / "IVR003-octal-key.yaml")
    assert "010" in p.message and "as 8" in p.hint and "'010'" in p.hint


def test_duplicate_key_names_the_first_line() -> None:
    [p] = found(FLOWS / "IVR002-duplicate-key.yaml")
    assert "first defined on line 15" in p.message


def test_warnings_do_not_stop_a_flow() -> None:
    checked = check_file(str(FLOWS / "W306-unreachable.yaml"))
    assert checked.flow is not None and checked.ok() and not checked.ok(strict=True)


def test_inherited_give_up_reported_once(tmp_path: Path) -> None:
    text = (FLOWS / "IVR303-retries-goodbye.yaml").read_text()
    text = text.replace("    retries: {no_input: 2, no_match: 2, then: bye}\n", "")
    text = text.replace("states:\n", "retries: {then: bye}\nstates:\n")
    (tmp_path / "f.yaml").write_text(text)
    problems = found(tmp_path / "f.yaml")
    assert [(p.code, p.path) for p in problems] == [("IVR303", "retries.then")]


def test_inherited_unknown_give_up_reported_once(tmp_path: Path) -> None:
    text = (FLOWS / "W306-unreachable.yaml").read_text()
    text = text.replace("states:\n", "retries: {then: nobody}\nstates:\n")
    (tmp_path / "f.yaml").write_text(text)
    problems = found(tmp_path / "f.yaml")
    assert [(p.code, p.path) for p in problems] == [("IVR201", "retries.then")]


def test_shipped_flows_are_clean() -> None:
    for path in sorted((FLOWS.parent.parent / "flows").glob("*.yaml")):
        assert found(path) == [], path
