"""Bad input never gives a traceback: every kind of broken file becomes a located problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.flowlang.catalog import check_file, check_text
from ivr.flowlang.positions import dotted
from ivr.flowlang.source import MAX_BYTES, load, load_file

VALID = (Path(__file__).resolve().parents[2] / "flows" / "card-services.yaml").read_text()

ALIAS_BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]) + "\n"

BAD_FILES: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b"   \n\n",
    "binary": bytes(range(256)) * 4,
    "ten-megabytes": b"flow: x\n" + b"# padding\n" * (1024 * 1024),
    "deeply-nested-flow": b"flow: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deeply-nested-block": "".join(f"{'  ' * i}k{i}:\n" for i in range(300)).encode(),
    "alias-bomb": ALIAS_BOMB.encode(),
    "latin-1": "flow: café\n".encode("latin-1"),
    "utf-16": "flow: x\n".encode("utf-16"),
    "a-list": b"- flow: x\n- start: y\n",
    "a-string": b"just some words\n",
    "control-char": b"flow: x\x07y\n",
    "unclosed-quote": b'flow: "x\nstart: y\n',
    "tab-indent": b"flow: x\nhuman:\n\tkeys: ['0']\n",
    "python-tag": b"flow: !!python/object/apply:os.system ['echo hi']\n",
    "non-scalar-key": b"? [a, b]\n: c\n",
    "null-state": VALID.replace("  check_hours:\n    hours: {open: main_menu, closed: "
                                "after_hours}\n", "  check_hours:\n").encode(),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_a_problem_not_a_traceback(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(BAD_FILES[name])
    checked = check_file(str(path))
    assert checked.flow is None
    assert checked.problems, name
    for p in checked.problems:
        assert p.code.startswith("IVR") and p.message and p.file == str(path)
        assert "\n" not in p.message
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(("name", "code", "line", "col"), [
    ("empty", "IVR006", 1, 1),
    ("binary", "IVR007", 0, 0),
    ("ten-megabytes", "IVR007", 0, 0),
    ("deeply-nested-flow", "IVR008", 1, 70),
    ("deeply-nested-block", "IVR008", 66, 131),
    ("alias-bomb", "IVR008", 5, 1),
    ("latin-1", "IVR007", 1, 10),
    ("utf-16", "IVR007", 1, 1),
    ("a-list", "IVR101", 1, 1),
    ("control-char", "IVR001", 1, 8),
    ("unclosed-quote", "IVR001", 3, 1),
    ("tab-indent", "IVR005", 3, 1),
    ("non-scalar-key", "IVR003", 1, 3),
])
def test_bad_file_position(tmp_path: Path, name: str, code: str, line: int, col: int) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(BAD_FILES[name])
    first = check_file(str(path)).problems[0]
    assert (first.code, first.line, first.col) == (code, line, col), first


def test_large_text_given_directly_is_refused_cheaply() -> None:
    src = load("x: " + "y" * (MAX_BYTES + 10))
    assert [p.code for p in src.problems] == ["IVR007"]


def test_missing_file_is_a_problem() -> None:
    src = load_file("/nonexistent/flow.yaml")
    assert src.problems[0].code == "IVR007" and "cannot read" in src.problems[0].message


def test_bom_is_accepted() -> None:
    assert check_text(VALID).problems == []
    assert load(b"\xef\xbb\xbf" + VALID.encode()).problems == []


def test_positions_of_values_and_keys() -> None:
    src = load("a:\n  b: [x, 'y']\n")
    assert (src.positions[("a", "b", 1)].line, src.positions[("a", "b", 1)].col) == (2, 10)
    assert (src.key_positions[("a", "b")].line, src.key_positions[("a", "b")].col) == (2, 3)
    assert src.pos(("a", "b", 7)) == src.positions[("a", "b")]


@pytest.mark.parametrize(("text", "code", "fragment"), [
    ("a: 1\na: 2\n", "IVR002", "first defined on line 1"),
    ("010: x\n", "IVR003", "(octal!)"),
    ("on: x\n", "IVR004", "boolean"),
    ("a: .nan\n", "IVR104", "not a usable number"),
    ("a: -.inf\n", "IVR104", "not a usable number"),
])
def test_traps_are_explained(text: str, code: str, fragment: str) -> None:
    [p] = load(text).problems
    assert p.code == code and fragment in p.message


def test_merge_keys_still_work() -> None:
    src = load("base: &b {x: '1'}\nchild:\n  <<: *b\n  y: '2'\n")
    assert src.problems == [] and src.data["child"] == {"x": "1", "y": "2"}


def test_dotted_paths() -> None:
    assert dotted(("states", "m", "intents", "x", "keys", 0)) == "states.m.intents.x.keys[0]"
    assert dotted(("open", "mon-fri")) == "open.mon-fri"
    assert dotted(("options", "2")) == 'options["2"]'
