"""Every GetHuman rule (GH1..GH9) has a flow that passes and one that fails it."""

from __future__ import annotations

import pytest

from ivr.flowlang.catalog import check_text
from ivr.flowlang.checks.gethuman import check_gethuman

BASE = """\
flow: gh
start: menu
language: en-US
human:
  dial: "+15551230000"
  keys: ["0"]
  phrases: [agent, operator]
hours: {timezone: America/New_York, open: {mon-fri: "08:00-20:00"}}
states:
  menu:
    ask: "For billing press 1. For anything else press 9."
    intents:
      billing: {keys: ["1"], phrases: [billing], goto: pin}
      other: {keys: ["9"], goto: other}
  pin:
    ask: "Enter your account number."
    collect: {slot: account, max_digits: 6}
    next: human
  other:
    capture: "Tell me why you are calling."
    then: human
  vm:
    voicemail: "Leave a message."
    next: bye
  bye:
    goodbye: "Goodbye."
"""

FAILS = {
    "GH1": ("phrases: [agent, operator]", "phrases: [agent]"),
    "GH2": ('  dial: "+15551230000"', '  dial: "+15551230000"\n  timeout: 120'),
    "GH3": ("{slot: account, max_digits: 6}", "{slot: account, max_digits: 6, sensitive: true}"),
    "GH4": ("  vm:\n    voicemail: \"Leave a message.\"\n    next: bye\n", ""),
    "GH5": ('billing: {keys: ["1"], phrases: [billing], goto: pin}',
            "billing: {phrases: [billing], goto: pin}"),
    "GH6": ('ask: "For billing press 1. For anything else press 9."',
            'ask: "' + "word " * 61 + '"'),
    "GH7": ("start: menu", "start: a1"),
    "GH8": ("    next: human\n  other:", "    next: human\n    retries: {no_input: 0}\n  other:"),
    "GH9": ("language: en-US", 'language: ""'),
}
CHAIN = ("states:\n", "states:\n  a1: {say: One., next: a2}\n  a2: {say: Two., next: a3}\n"
         "  a3: {say: Three., next: menu}\n")


def codes(text: str) -> list[str]:
    checked = check_text(text, "gh.yaml")
    assert checked.flow is not None, checked.problems
    return [p.code for p in check_gethuman(checked.flow, checked.source)]


def test_base_flow_passes_every_rule() -> None:
    assert codes(BASE) == []


def test_shipped_card_flow_passes(catalog: object) -> None:
    from ivr.flowlang.catalog import check_file

    checked = check_file("flows/card-services.yaml")
    assert checked.flow is not None
    assert check_gethuman(checked.flow, checked.source) == []


@pytest.mark.parametrize("code", sorted(FAILS))
def test_each_rule_fails_its_fixture(code: str) -> None:
    old, new = FAILS[code]
    text = BASE.replace(old, new)
    if code == "GH7":
        text = BASE.replace("start: menu", "start: a1").replace(*CHAIN)
    assert text != BASE
    found = codes(text)
    assert code in found, found
    assert set(found) == {code}, f"{code} fixture also trips {found}"
