"""The TwiML writer: one row per verb, whole-string golden files per waiting state."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from ivr.flowlang.catalog import Catalog
from ivr.flowlang.machine import Compiled
from ivr.runtime.actions import (
    VERBS,
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Job,
    Pause,
    Play,
    Record,
    Redirect,
    Say,
)
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event
from ivr.telephony import twiml
from tests.conftest import CLOSED, OPEN

GOLDEN = Path(__file__).parent.parent / "golden"
BASE = "https://ivr.example.com/voice/card-services"
URLS = {e: f"{BASE}/event?e={e}&turn=7" for e in ("turn", "no_input", "dial", "recording")}
URLS["whisper"] = f"{BASE}/whisper?sid=CA1"
URLS["leg"] = f"{BASE}/leg?sid=CA1&turn=7"

# Every state of card-services where the call waits for Twilio, and how to get there.
WAITING: dict[str, tuple[datetime, list[str]]] = {
    "main_menu": (OPEN, []),
    "after_hours": (CLOSED, []),
    "lost_card": (OPEN, ["1"]),
    "balance": (OPEN, ["2"]),
    "balance_result": (OPEN, ["2", "12345"]),
    "payment": (OPEN, ["3"]),
    "dispute": (OPEN, ["4"]),
    "activate": (OPEN, ["5"]),
    "anything_else": (OPEN, ["3", "3"]),
    "other": (OPEN, ["9"]),
    "human": (OPEN, ["0"]),
    "after_hours_voicemail": (CLOSED, ["2"]),
    "goodbye": (OPEN, ["3", "3", "2"]),
}


def drive(c: Compiled, now: datetime, presses: list[str]) -> tuple[CallState, list[object]]:
    state, actions = step(c, CallState("CA1", c.flow.id, c.flow.version), Event.start(now))
    for digits in presses:
        state, actions = step(c, state, Event.press(digits, now))
    return state, actions


@pytest.mark.parametrize("name", sorted(WAITING))
def test_golden_twiml_per_waiting_state(catalog: Catalog, name: str) -> None:
    c = catalog.get("card-services")
    assert c is not None
    now, presses = WAITING[name]
    state, actions = drive(c, now, presses)
    assert state.path[-1] == name or state.path[-2] == name
    out = twiml.render(actions, URLS)  # type: ignore[arg-type]
    path = GOLDEN / f"card-services.{name}.xml"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out + "\n", encoding="utf-8")
    assert out + "\n" == path.read_text(encoding="utf-8")


def test_every_verb_has_a_renderer() -> None:
    assert set(VERBS.values()) | {Job} <= set(twiml.RENDERERS)


def test_gather_has_prompts_inside_and_a_no_input_redirect_after() -> None:
    g = Gather((Say("Press 1", "Polly.Joanna", "en-US"), Pause(2), Play("https://a/b.mp3")),
               "dtmf speech", 1, "", 6, "auto", ("agent", "lost card"), "en-US")
    root = ET.fromstring(twiml.render([g], URLS))
    assert [n.tag for n in root] == ["Gather", "Redirect"]
    gather = root[0]
    assert [n.tag for n in gather] == ["Say", "Pause", "Play"]
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("action") == URLS["turn"]
    assert gather.get("hints") == "agent, lost card"
    assert gather.get("language") == "en-US" and gather.get("numDigits") == "1"
    assert root[1].text == URLS["no_input"]


def test_dtmf_only_gather_has_no_speech_attributes() -> None:
    out = twiml.render([Gather((Say("x"),), "dtmf", 4, "#", 5)], URLS)
    assert "speechTimeout" not in out and "hints" not in out and 'finishOnKey="#"' in out


def test_dial_reads_the_whisper_to_the_agent_through_the_number_url() -> None:
    root = ET.fromstring(twiml.render([Dial("+15551230000", "They lost a card", 25)], URLS))
    dial = root.find("Dial")
    assert dial is not None and dial.get("timeout") == "25"
    assert dial.get("action") == URLS["dial"]
    number = dial.find("Number")
    assert number is not None and number.text == "+15551230000"
    assert number.get("url") == URLS["whisper"]
    # every step of reaching the person reaches the call's transcript (ivr.server.legs)
    assert number.get("statusCallback") == URLS["leg"]
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"
    assert number.get("statusCallbackMethod") == "POST"


def test_record_enqueue_redirect_hangup() -> None:
    out = twiml.render([Record(60, "#", True, 5), Enqueue("cards"), Redirect("turn"), Hangup()],
                       URLS)
    root = ET.fromstring(out)
    assert [n.tag for n in root] == ["Record", "Enqueue", "Redirect", "Hangup"]
    rec = root[0]
    assert (rec.get("maxLength"), rec.get("playBeep"), rec.get("finishOnKey")) == \
        ("60", "true", "#")
    assert rec.get("action") == URLS["recording"] and root[1].get("action") == URLS["dial"]


def test_jobs_are_not_twiml() -> None:
    assert twiml.render([Job("inbox", {"sid": "CA1"}), Say("hi")], URLS) == \
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say>hi</Say></Response>'


def test_text_is_escaped() -> None:
    assert "&lt;b&gt; &amp; co" in twiml.render([Say("<b> & co")], URLS)


def test_emergency_says_sorry_dials_then_never_ends_in_silence() -> None:
    root = ET.fromstring(twiml.emergency("+15559990000", "Sorry."))
    assert [n.tag for n in root] == ["Say", "Dial", "Say", "Hangup"]
    assert root[1].text == "+15559990000"


def test_whisper_is_a_say() -> None:
    assert "<Say>Caller said hi</Say>" in twiml.whisper("Caller said hi")


def test_fallthrough_gather_continues_into_the_record() -> None:
    from ivr.runtime.actions import Gather, Record, Say

    offer = Gather((Say("Press 1 for a call back."),), "dtmf", 1, "", 4, fallthrough=True)
    xml = twiml.render([offer, Say("Leave a message."), Record()], URLS)
    assert "actionOnEmptyResult" not in xml and "<Redirect" not in xml
    assert xml.index("<Gather") < xml.index("<Record")


ODD_URLS = [
    {**URLS, "turn": 'https://h/voice/x/event?e=turn&turn=7&q="quoted"'},
    {**URLS, "no_input": "https://h/voice/x/event?e=no_input&turn=7\n&x=\t1\r"},
    {**URLS, "turn": "https://h/voice/<b>/event?a=1&b=2&amp;c=3"},
    {**URLS, "whisper": "https://h\u00e9/voice/x/whisper?sid=CA\u2603"},
    {**URLS, "dial": URLS["turn"], "no_input": URLS["turn"]},
    {k: v for k, v in URLS.items() if k != "whisper"},
]


@pytest.mark.parametrize("name", sorted(WAITING))
@pytest.mark.parametrize("urls", range(len(ODD_URLS) + 1))
def test_cached_render_is_byte_identical_to_the_sdk(catalog: Catalog, name: str,
                                                    urls: int) -> None:
    """The template cache never changes a byte, whatever the URLs hold (escaping, order)."""
    c = catalog.get("card-services")
    assert c is not None
    now, presses = WAITING[name]
    _, actions = drive(c, now, presses)
    u = ([URLS] + ODD_URLS)[urls]
    for _ in range(2):  # the first call fills the cache, the second is served from it
        assert twiml.render(actions, u) == twiml.render_uncached(actions, u)  # type: ignore[arg-type]


def test_cached_render_of_every_verb_and_placeholder_text_in_prompts() -> None:
    acts = [Say("ivr placeholder look-alike u0x"), Record(60, "#", True, 5), Enqueue("cards"),
            Redirect("turn"), Dial("+15551230000", "w", 25), Hangup(),
            Job("inbox", {"sid": "CA1"})]
    urls = {**URLS, "wait": "https://h/voice/x/wait?sid=CA1&t=3"}
    for _ in range(2):
        assert twiml.render(acts, urls) == twiml.render_uncached(acts, urls)
