"""Speech settings (``speech:`` flow-wide and per prompt) reach Twilio's <Gather> as
speechModel, whole-second speechTimeout, hints and language; golden TwiML per prompt, and
the checker's Twilio rules (IVR406, IVR407) at their positions."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.flowlang.catalog import check_text
from ivr.flowlang.machine import compile_flow
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event
from ivr.telephony import twiml
from tests.conftest import OPEN
from tests.telephony.test_twiml import GOLDEN, URLS

FLOW = Path(__file__).parent.parent / "flows" / "speech" / "speech-settings.yaml"
PROMPTS = {"menu": [], "account": ["1"], "why": ["9"]}


def gather_of(presses: list[str]) -> tuple[str, ET.Element]:
    checked = check_text(FLOW.read_text(encoding="utf-8"), str(FLOW))
    assert checked.flow is not None, checked.problems
    c = compile_flow(checked.flow)
    call, actions = step(c, CallState("CA1", c.flow.id, c.flow.version), Event.start(OPEN))
    for digits in presses:
        call, actions = step(c, call, Event.press(digits, OPEN))
    out = twiml.render(actions, URLS)
    gather = ET.fromstring(out).find("Gather")
    assert gather is not None, out
    return out, gather


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_golden_twiml_per_prompt(name: str) -> None:
    out, _ = gather_of(PROMPTS[name])
    path = GOLDEN / f"speech-settings.{name}.xml"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out + "\n", encoding="utf-8")
    assert out + "\n" == path.read_text(encoding="utf-8")


def test_a_prompt_overrides_the_flow_field_by_field() -> None:
    _, menu = gather_of([])
    assert (menu.get("speechModel"), menu.get("speechTimeout"), menu.get("language")) == \
        ("numbers_and_commands", "3", "en-GB")
    assert menu.get("hints", "").split(", ")[:3] == ["agent", "statement", "my account"]
    _, collect = gather_of(["1"])  # no speech block: the flow's
    assert (collect.get("speechModel"), collect.get("speechTimeout"),
            collect.get("language")) == ("phone_call", "2", "en-US")
    _, why = gather_of(["9"])
    assert (why.get("speechModel"), why.get("speechTimeout")) == ("experimental_utterances", "4")
    assert "found a card" in why.get("hints", "")


def test_without_speech_settings_twilio_chooses() -> None:
    from tests.telephony.test_twiml import WAITING  # noqa: F401 - the shipped flow's golden

    text = (GOLDEN / "card-services.main_menu.xml").read_text(encoding="utf-8")
    assert "speechModel" not in text and 'speechTimeout="auto"' in text


BAD = FLOW.read_text(encoding="utf-8")


@pytest.mark.parametrize("old,new,code,line,col", [
    ("  timeout: 2\n", "", "IVR407", 6, 3),                      # flow model, no timeout
    ("  timeout: 2\n", "  timeout: auto\n", "IVR407", 7, 12),     # flow model, auto
    ("timeout: 3, language", "timeout: auto, language", "IVR407", 16, 52),
    ("timeout: 4,", "timeout: 2.5,", "IVR406", 26, 55),
    ("timeout: 4,", "timeout: 0,", "IVR406", 26, 55),
    ("timeout: 4,", "timeout: soon,", "IVR406", 26, 55),
    ("model: phone_call", "model: phone_cal", "IVR104", 6, 10),
])
def test_twilio_rules_at_their_positions(old: str, new: str, code: str, line: int,
                                         col: int) -> None:
    assert old in BAD
    checked = check_text(BAD.replace(old, new, 1), "speech.yaml")
    found = [(p.code, p.line, p.col) for p in checked.problems]
    assert found == [(code, line, col)], [str(p) for p in checked.problems]


def test_speech_in_a_state_that_does_not_listen_is_refused() -> None:
    text = BAD.replace('    goodbye: "Thanks. Goodbye."\n',
                       '    goodbye: "Thanks. Goodbye."\n    speech: {timeout: 2}\n')
    assert [p.code for p in check_text(text, "x.yaml").problems] == ["IVR106"]
