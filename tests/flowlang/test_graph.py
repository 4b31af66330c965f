"""``ivr graph``: golden Mermaid and DOT, the escape hatch visible, ids Mermaid accepts.

Regenerate the golden files after an intended change with::

    UPDATE_GOLDEN=1 python -m pytest tests/test_graph.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.flowlang.catalog import check_file, check_text
from ivr.flowlang.graph import ANYWHERE, Style, build, find_flow, render, to_mermaid
from ivr.flowlang.model import Flow

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent.parent / "golden"
SHIPPED = sorted((ROOT / "flows").glob("*.yaml"))
EXT = {"mermaid": "mmd", "dot": "dot"}


def flow_of(path: Path) -> Flow:
    flow = check_file(str(path)).flow
    assert flow is not None
    return flow


def golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/<name>`` as a whole string."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_golden(path: Path, fmt: str) -> None:
    golden(f"{path.stem}.{EXT[fmt]}", render(flow_of(path), fmt))


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_cli_prints_the_golden_text(fmt: str) -> None:
    result = CliRunner().invoke(main, ["graph", "card-services", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.output == (GOLDEN / f"card-services.{EXT[fmt]}").read_text()


def test_every_edge_into_human_is_red_in_mermaid() -> None:
    text = render(flow_of(ROOT / "flows" / "card-services.yaml"))
    edges = [line.strip() for line in text.splitlines() if re.search(r" (-->|-\.->|==>)", line)]
    red = re.search(r"linkStyle ([\d,]+) stroke:#c00", text)
    assert red
    red_edges = {edges[int(i)] for i in red.group(1).split(",")}
    assert {e for e in edges if e.endswith(" human")} <= red_edges
    assert "class human human" in text and "classDef human" in text


def test_escape_hatch_drawn_once_as_a_note() -> None:
    g = build(flow_of(ROOT / "flows" / "card-services.yaml"))
    escapes = [e for e in g.edges if e.style is Style.ESCAPE]
    assert [(e.src, e.dst) for e in escapes] == [(ANYWHERE, "human")]
    note = next(n for n in g.nodes if n.id == ANYWHERE)
    assert "press 0" in note.label and "say 'agent'" in note.label


def test_dot_styles_human_and_give_up() -> None:
    text = render(flow_of(ROOT / "flows" / "card-services.yaml"), "dot")
    assert '"human" [label="human\\ndial +15551230000", shape=doubleoctagon' in text
    assert ('"main_menu" -> "human" [label="give up: 2 silent, 2 unclear", style=dotted, '
            'color="#cc0000"') in text
    assert '"other" -> "human" [label="then", color="#cc0000"' in text
    assert text.startswith("// call flow card-services") and text.endswith("}\n")


def test_mermaid_reserved_names_and_symbols_are_escaped() -> None:
    checked = check_text(
        'flow: t\nstart: end\nhuman: {keys: ["0"], phrases: [agent], enqueue: support}\n'
        'states:\n  end:\n    ask: "Press # or say \\"help\\""\n    intents:\n'
        '      other: {keys: ["#"], phrases: ["a & b"], goto: human}\n')
    assert checked.flow is not None, checked.problems
    text = to_mermaid(build(checked.flow))
    assert "    end_state{{\"end<br/>menu\"}}" in text
    assert '__start__ --> end_state' in text
    assert '-->|"#35;: other"| human' in text
    assert "queue support" in text


def test_unknown_graph_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="mermaid, dot"):
        render(flow_of(ROOT / "flows" / "card-services.yaml"), "png")


def test_find_flow_by_path_stem_and_id(tmp_path: Path) -> None:
    (tmp_path / "file-name.yaml").write_text("flow: other-id\n")
    assert find_flow("other-id", str(tmp_path)) == (str(tmp_path / "file-name.yaml"), [])
    assert find_flow("file-name", str(tmp_path))[0] == str(tmp_path / "file-name.yaml")
    assert find_flow("other-ids", str(tmp_path)) == (None, ["other-id"])
    assert find_flow("x", str(tmp_path / "missing")) == (None, [])


def test_cli_unknown_flow_suggests_and_exits_2() -> None:
    result = CliRunner().invoke(main, ["graph", "card-servces"])
    assert result.exit_code == 2
    assert "Did you mean 'card-services'?" in result.output


def test_cli_invalid_flow_prints_problems_and_exits_1() -> None:
    bad = Path(__file__).parent.parent / "flows" / "IVR201-unknown-target.yaml"
    result = CliRunner().invoke(main, ["graph", str(bad)])
    assert result.exit_code == 1
    assert "error[IVR201]" in result.output and "flowchart" not in result.output


def test_cli_flows_dir_option() -> None:
    flows = str(Path(__file__).parent.parent / "flows")
    result = CliRunner().invoke(main, ["graph", "--flows-dir", flows, "W306-unreachable"])
    assert result.exit_code == 0 and "old_promo" in result.output
