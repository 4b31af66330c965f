"""The clinic flow, walked through the engine: safety first, lunch break, results to a nurse."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.flowlang.catalog import Catalog
from ivr.flowlang.machine import Compiled
from ivr.runtime.actions import Action, Enqueue, Gather, Hangup, Job, Record, spoken
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event, EventKind

ROOT = Path(__file__).resolve().parents[2]
CHI = ZoneInfo("America/Chicago")
MORNING = datetime(2026, 11, 18, 9, 30, tzinfo=CHI)      # a Wednesday, open
LUNCH = datetime(2026, 11, 18, 12, 30, tzinfo=CHI)       # closed for lunch
FRIDAY_LATE = datetime(2026, 11, 20, 16, 30, tzinfo=CHI)  # Friday closes at 4
THANKSGIVING = datetime(2026, 11, 26, 10, 0, tzinfo=CHI)  # US holiday


@pytest.fixture
def clinic(catalog: Catalog) -> Compiled:
    c = catalog.get("clinic-appointments")
    assert c is not None
    return c


def call(c: Compiled, *events: Event) -> tuple[CallState, list[Action]]:
    state = CallState("CA1", c.flow.id, c.flow.version)
    actions: list[Action] = []
    for e in events:
        state, actions = step(c, state, e)
    return state, actions


def test_validates_strictly() -> None:
    result = CliRunner().invoke(main, ["validate", "--strict",
                                       str(ROOT / "flows" / "clinic-appointments.yaml")])
    assert result.exit_code == 0, result.output


def test_start_warns_about_911_then_triage(clinic: Compiled) -> None:
    state, actions = call(clinic, Event.start(MORNING))
    assert state.state == "triage"
    assert isinstance(actions[0], Gather)
    assert "dial 911" in spoken(actions)[0]


@pytest.mark.parametrize("when", [MORNING, LUNCH])
def test_urgent_symptoms_hear_911_then_a_nurse(clinic: Compiled, when: datetime) -> None:
    state, actions = call(clinic, Event.start(when), Event.speech("I have chest pain", .9, when))
    assert "emergency_notice" in state.path
    assert any("hang up now and dial 911" in s for s in spoken(actions))
    if when is MORNING:
        assert state.state == "human" and isinstance(actions[-1], Enqueue)
    else:  # the nurse queue is closed at lunch: a message and a call back, never silence
        assert isinstance(actions[-2], Record) and state.state == "message"


def test_book_existing_patient_reaches_scheduling(clinic: Compiled) -> None:
    state, actions = call(clinic, Event.start(MORNING), Event.press("2", MORNING),
                          Event.press("1", MORNING), Event.press("1", MORNING),
                          Event.press("01021980", MORNING), Event.press("3", MORNING))
    assert state.path[-3:] == ["book_when", "book_requested", "human"]
    assert state.slots["date_of_birth"] != "01021980"  # sensitive: never stored
    assert isinstance(actions[-1], Enqueue) and actions[-1].name == "front_desk"


def test_cancel_then_all_set_hangs_up_politely(clinic: Compiled) -> None:
    state, actions = call(clinic, Event.start(MORNING), Event.press("2", MORNING),
                          Event.press("2", MORNING), Event.press("01021980", MORNING),
                          Event.press("2", MORNING), Event.press("2", MORNING))
    assert "cancel_done" in state.path and state.ended
    assert any(isinstance(a, Hangup) for a in actions)
    assert state.outcome == "completed"


def test_test_results_always_go_to_a_person(clinic: Compiled) -> None:
    state, actions = call(clinic, Event.start(MORNING), Event.press("2", MORNING),
                          Event.speech("I'm calling about my lab results", .9, MORNING))
    assert state.path[-2:] == ["results_notice", "human"]
    assert any("nursing staff" in s for s in spoken(actions))


def test_lunch_break_routes_to_closed_menu(clinic: Compiled) -> None:
    state, _ = call(clinic, Event.start(LUNCH), Event.press("2", LUNCH))
    assert state.state == "closed_menu"
    state, _ = call(clinic, Event.start(FRIDAY_LATE), Event.press("2", FRIDAY_LATE))
    assert state.state == "closed_menu"
    state, _ = call(clinic, Event.start(THANKSGIVING), Event.press("2", THANKSGIVING))
    assert state.state == "closed_menu"


def test_after_hours_message_requests_a_callback(clinic: Compiled) -> None:
    state, actions = call(clinic, Event.start(LUNCH), Event.press("2", LUNCH),
                          Event.press("2", LUNCH))
    assert state.state == "message" and isinstance(actions[-2], Record)
    state, actions = step(clinic, state, Event(EventKind.RECORDING, url="https://r/1",
                                               duration=12, now=LUNCH))
    assert any(isinstance(a, Job) and a.kind == "callback" for a in actions)
    assert state.ended and state.outcome == "voicemail"


@pytest.mark.parametrize("name", ["triage", "main_menu", "book_dob", "change_menu",
                                  "refill_rx", "anything_else", "other"])
def test_zero_reaches_the_front_desk_from_every_waiting_state(clinic: Compiled,
                                                              name: str) -> None:
    state = CallState("CA1", clinic.flow.id, "", state=name)
    state, actions = step(clinic, state, Event.press("0", MORNING))
    assert state.state == "human" and isinstance(actions[-1], Enqueue)


def test_silence_at_triage_gives_up_to_a_person_quickly(clinic: Compiled) -> None:
    state, actions = call(clinic, Event.start(MORNING), Event.silence(MORNING),
                          Event.silence(MORNING))
    assert state.state == "human"
    assert not any(isinstance(a, Hangup) for a in actions)
