"""The published JSON Schema: every shipped flow validates; structure errors read well."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from ivr.cli import main
from ivr.flowlang.catalog import check_text
from ivr.flowlang.schema import FLOW_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "flows").glob("*.yaml"))
HEAD = 'flow: t\nstart: m\nhuman: {keys: ["0"], phrases: [agent], dial: "+15551230000"}\n'
MENU = 'states:\n  m:\n    ask: "Press 9."\n    intents:\n      other: {keys: ["9"], goto: human}\n'


def printed_schema() -> dict[str, object]:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema: dict[str, object] = json.loads(result.output)
    return schema


def test_cli_prints_a_valid_draft_2020_12_schema() -> None:
    schema = printed_schema()
    assert schema == FLOW_SCHEMA
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_flow_validates_against_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    jsonschema.validate(data, printed_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_rejects_what_the_checker_rejects() -> None:
    data = yaml.safe_load((ROOT / "flows" / "card-services.yaml").read_text())
    data["states"]["welcome"]["nxet"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, FLOW_SCHEMA)


def problems(text: str) -> list[tuple[str, str, str]]:
    return [(p.code, p.message, p.hint) for p in check_text(text).problems]


@pytest.mark.parametrize(("text", "code", "message", "hint"), [
    (HEAD.replace("flow: t", "flow: Card Services") + MENU, "IVR104",
     "flow: 'Card Services' is not a valid flow id", "e.g. card-services"),
    (HEAD + MENU.replace("  m:", "  Main-Menu:").replace("start: m", "start: Main-Menu"),
     "IVR104", "name 'Main-Menu' is not allowed", "lower_snake_case"),
    (HEAD + MENU.replace('"9"]', '"9", "9"]'), "IVR104", "keys: lists the same item twice",
     "remove the repeated item"),
    (HEAD + MENU.replace('"9"]', '"x"]'), "IVR104", "keys: 'x' is not a DTMF key",
     "quoted: '1'"),
    (HEAD + "retries: {no_match: -1}\n" + MENU, "IVR104", "no_match: must be at least 0",
     "from 0 to 5"),
    (HEAD + MENU.replace("goto: human", "goto: human, keys_: []"), "IVR103",
     "unknown key 'keys_'", "did you mean 'keys'?"),
    (HEAD.replace("flow: t\n", "") + MENU, "IVR102", "missing required key 'flow'",
     "add 'flow:'"),
    (HEAD + MENU.replace('ask: "Press 9."', "ask: [a, b]"), "IVR101",
     "expected text, found a list", "Prompt that waits"),
    (HEAD + "matching: {threshold: high}\n" + MENU, "IVR101",
     "expected a number, found text", "a number such as 0.6"),
    (HEAD + MENU.replace('ask: "Press 9."', "ask: off"), "IVR004",
     "'off' is read by YAML as a boolean", "quote it: 'off'"),
])
def test_structure_messages(text: str, code: str, message: str, hint: str) -> None:
    found = problems(text)
    assert any(c == code and message in m and hint in h for c, m, h in found), found


def test_non_mapping_document() -> None:
    assert problems("- a\n- b\n")[0][:2] == ("IVR101",
                                            "a flow file must be a mapping of settings")
