"""ivr simulate: a scripted terminal call on the same engine, and its --record round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.flowlang.catalog import Catalog
from ivr.qa.drivers import Observed
from ivr.qa.simulate import InputError, Session, parse_line
from tests.conftest import OPEN, ROOT

FLOWS = str(ROOT / "flows")
OPEN_ISO = "2026-11-20T14:05:00-05:00"
SUNDAY_ISO = "2026-11-22T14:05:00-05:00"


def simulate(script: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["simulate", "--flows-dir", FLOWS, *args], input=script)


def test_scripted_call_shows_state_and_what_the_caller_hears() -> None:
    out = simulate("1\n12\n\n0\nanswer\n", "card-services", "--clock", OPEN_ISO)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("[main_menu] 🔊 Thanks for calling Acme card services.")
    assert lines[1].startswith("[main_menu] 🔊 For a lost or stolen card")
    assert "[lost_card] 🔊 Sorry, I didn't get that." in lines
    assert "[lost_card] 🔊 Sorry, I didn't hear anything." in lines
    assert "[human] 📞 ringing a person... (answer, noanswer or busy)" in lines
    assert lines[-1] == "📴 call ended: the caller reached a person (human)"
    assert "> " not in out.output


def test_speech_with_confidence_and_other() -> None:
    out = simulate("say I found somebody's credit card @0.9\nsay I want to return it\n"
                   "noanswer\n\nmy number is 555\n", "card-services", "--clock", OPEN_ISO)
    assert "[other] 🔊 No problem. In a few words" in out.output
    assert "[after_hours_voicemail] ⏺  recording after the tone" in out.output
    assert out.output.splitlines()[-1].endswith("left a voicemail for a callback (voicemail)")


def test_after_hours_clock() -> None:
    out = simulate("hangup\n", "card-services", "--clock", SUNDAY_ISO)
    assert out.output.startswith("[after_hours] 🔊 Thanks for calling")
    assert "call ended: the caller hung up (hang-up)" in out.output


def test_help_unknown_input_and_end_of_input() -> None:
    out = simulate("help\nsya hello\nanswer\n2\n", "card-services", "--clock", OPEN_ISO)
    assert "say <words> @0.4" in out.output
    assert "unknown input 'sya hello' (did you mean 'say'?)" in out.output
    assert "'answer' only works while a person is being rung" in out.output
    assert out.output.splitlines()[-1] == "(end of input) the caller is still in 'balance' " \
                                          "(no outcome yet)"


@pytest.mark.parametrize("line, kind, value, conf", [
    ("0#", "press", "0#", None), ("", "silence", "", None), ("  say lost card ", "say",
                                                             "lost card", None),
    ("say lost card @0.4", "say", "lost card", 0.4), ("HANGUP", "hangup", "", None),
])
def test_parse_line(line: str, kind: str, value: str, conf: float | None) -> None:
    s = parse_line(line, Observed("main_menu", [], ["gather"]))
    assert s is not None and (s.kind, s.value, s.confidence) == (kind, value, conf)


def test_parse_line_while_ringing_and_recording() -> None:
    ringing = Observed("human", [], ["say", "dial"])
    with pytest.raises(InputError, match="answer, noanswer or busy"):
        parse_line("1", ringing)
    busy = parse_line("busy", ringing)
    assert busy is not None and busy.value == "busy"
    rec = parse_line("", Observed("x", [], ["say", "record"]))
    assert rec is not None and rec.kind == "recording"


def test_record_round_trip_replays_green(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    out = simulate("2\n54321\n1\n3\n1\n4\n250#\n0\nnoanswer\n\nrecord 9\n", "card-services",
                   "--clock", OPEN_ISO, "--record", str(path))
    assert out.exit_code == 0 and f"transcript written to {path}" in out.output
    text = path.read_text()
    assert '  - press: "250#"' in text and "  - expect: {state: dispute}" in text
    assert text.rstrip().endswith("outcome: voicemail") and "seconds: 9" in text
    replayed = CliRunner().invoke(main, ["replay", "--flows-dir", FLOWS, str(path)])
    assert replayed.exit_code == 0, replayed.output


def test_record_round_trip_with_speech_and_no_outcome(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    simulate('say "lost card" please @0.3\nyes\n', "card-services", "--clock", OPEN_ISO,
             "--record", str(path))
    assert "confidence: 0.3" in path.read_text()
    replayed = CliRunner().invoke(main, ["replay", "--flows-dir", FLOWS, str(path)])
    assert replayed.exit_code == 0, replayed.output


def test_session_api(catalog: Catalog) -> None:
    c = catalog.get("card-services")
    assert c is not None
    s = Session(c, OPEN)
    assert s.start()[0].startswith("[main_menu]")
    assert s.handle("0")[-1].startswith("[human] 📞")
    s.handle("answer")
    assert s.ended and s.handle("1") == ["the call has ended"]


def test_flow_file_path_unknown_flow_and_bad_clock(tmp_path: Path) -> None:
    out = simulate("0\n", str(ROOT / "flows" / "card-services.yaml"), "--clock", OPEN_ISO)
    assert out.exit_code == 0 and "[human]" in out.output
    out = simulate("", "card-servces")
    assert out.exit_code == 2 and "Did you mean 'card-services'?" in out.output
    out = simulate("", "card-services", "--clock", "tomorrow")
    assert out.exit_code == 2 and "not an ISO date" in out.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("flow: bad\nstart: nowhere\nhuman: {keys: ['0'], phrases: [agent]}\n"
                   "states: {a: {say: hi, next: b}}\n")
    out = simulate("", str(bad))
    assert out.exit_code == 1 and "error[IVR" in out.output


def test_say_needs_words_and_a_confidence_from_0_to_1() -> None:
    out = simulate("say\nsay lost card @1.5\nsay lost card @high\nsay @0.3\n"
                   "say write to bob@example.com\n", "card-services", "--clock", OPEN_ISO)
    assert out.output.count("say what? e.g. say lost card") == 2
    assert "confidence '@1.5' must be a number from 0 to 1, e.g. say lost card @0.4" \
        in out.output
    assert "confidence '@high' must be a number from 0 to 1" in out.output
    assert "did you mean 'say'" not in out.output
    assert "[other] 🔊 No problem. In a few words" in out.output  # the email is words


def test_leg_reports_while_a_person_is_rung_are_recorded_and_replay(tmp_path: Path) -> None:
    path = tmp_path / "legs.yaml"
    out = simulate("0\nleg ringing\nleg answered\nleg sideways\nanswer\n", "card-services",
                   "--clock", OPEN_ISO, "--record", str(path))
    assert out.exit_code == 0, out.output
    assert "📞 the person's phone: ringing" in out.output
    assert "📞 the person's phone: answered" in out.output
    assert "or leg ringing|answered|completed" in out.output  # 'leg sideways'
    assert "reached a person (human)" in out.output
    text = path.read_text()
    assert "  - leg: ringing\n  - leg: answered\n  - dial_result: completed" in text
    replayed = CliRunner().invoke(main, ["replay", "--flows-dir", FLOWS, str(path)])
    assert replayed.exit_code == 0, replayed.output


def test_leg_only_fits_while_a_person_is_rung() -> None:
    with pytest.raises(InputError, match="does not fit now"):
        parse_line("leg answered", Observed("main_menu", [], ["gather"]))
