"""``ivr import``: each format's fixture (written from the format's public documentation)
imports into a transcript that replays, what-if reads it, and bad inputs say where and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.qa.importers import Options, Speakers, detect, import_file
from ivr.qa.importers.build import caller_step
from ivr.qa.importers.model import BadInput, Turn
from ivr.runtime.redact import is_card_number

HERE = Path(__file__).parent / "imports"
CLOCK = "2026-11-20T14:05:00-05:00"
AMAZON = ["--speaker", "AGENT=system", "--person-from", "30"]


def ivr(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def imported(tmp_path: Path, name: str, *extra: str) -> dict[str, object]:
    out = tmp_path / "out"
    res = ivr("import", str(HERE / name), "--flow", "card-services", "--out", str(out),
              "--clock", CLOCK, *extra)
    assert res.exit_code == 0, res.output
    text = (out / (Path(name).stem + ".yaml")).read_text()
    data: dict[str, object] = yaml.safe_load(text)
    data["_text"] = text
    return data


def whatif(path: Path, *extra: str) -> dict[str, object]:
    res = ivr("replay", "--what-if", "--json", str(path), *extra)
    assert res.exit_code == 0, res.output
    flows: list[dict[str, object]] = json.loads(res.output)["flows"]
    assert len(flows) == 1
    return flows[0]


@pytest.mark.parametrize(("name", "fmt"), [
    ("found-card.txt", "text"), ("balance-pin.vtt", "webvtt"), ("lost-wallet.srt", "srt"),
    ("twilio-sentences.json", "twilio"), ("amazon-call-analytics.json", "amazon")])
def test_formats_are_detected_by_extension_and_content(name: str, fmt: str,
                                                       tmp_path: Path) -> None:
    content = (HERE / name).read_text()
    assert detect(str(HERE / name), content) == fmt
    renamed = tmp_path / "call.log"
    assert detect(str(renamed), content) == fmt


def test_text_import_keeps_old_prompts_as_comments_and_stops_at_the_agent(
        tmp_path: Path) -> None:
    data = imported(tmp_path, "found-card.txt")
    assert data["steps"] == [
        {"say": "Um, I found somebody's credit card on the sidewalk outside the bank."},
        {"say": "agent"}]
    assert data["outcome"] == "human"
    text = str(data["_text"])
    assert "# IVR [00:00]: Welcome to Acme. Please say what you're calling about." in text
    assert "# Agent [00:41] took over here" in text
    assert "4111" not in text and "Hi, this is Sam" not in text  # the agent's part is not kept
    res = ivr("replay", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    report = whatif(tmp_path / "out")
    assert report["landed"] == {"other": 1}
    assert report["zeroed"] == {"other": 1}
    assert report["other"][0]["phrase"].startswith("Um, I found somebody's credit card")


def test_vtt_key_presses_and_the_pin_is_redacted(tmp_path: Path) -> None:
    data = imported(tmp_path, "balance-pin.vtt")
    assert data["steps"] == [{"press": "2"}, {"press": "11111"}, {"press": "3"}]
    assert data["outcome"] == "open"
    assert "54321" not in str(data["_text"])
    assert ivr("replay", str(tmp_path / "out")).exit_code == 0
    report = whatif(tmp_path / "out")
    assert report["landed"] == {"balance": 1}
    assert report["outcomes"] == {"completed": 1}


def test_srt_lost_wallet_reaches_a_person(tmp_path: Path) -> None:
    data = imported(tmp_path, "lost-wallet.srt")
    assert data["steps"] == [{"say": "someone stole my wallet last night"}, {"say": "1 2 3 4"}]
    assert ivr("replay", str(tmp_path / "out")).exit_code == 0
    calls = whatif(tmp_path / "out")["calls"]
    assert calls[0]["landed"] == "lost_card" and calls[0]["outcome"] == "human"


def test_twilio_sentences_roles_confidence_and_caller(tmp_path: Path) -> None:
    data = imported(tmp_path, "twilio-sentences.json")
    assert data["caller"] == "+12125550123"
    assert data["steps"] == [{"say": "I want to make a payment on my card.", "confidence": 0.91},
                             {"say": "The full amount.", "confidence": 0.88}]
    assert ivr("replay", str(tmp_path / "out")).exit_code == 0
    report = whatif(tmp_path / "out")
    assert report["landed"] == {"payment": 1}
    assert report["calls"][0]["outcome"] == "(in anything_else)"


def test_amazon_agent_channel_as_the_old_system_until_a_person_joins(tmp_path: Path) -> None:
    data = imported(tmp_path, "amazon-call-analytics.json", *AMAZON)
    assert data["steps"] == [{"say": "I picked up a card somebody dropped at the store and "
                                     "I want to give it back."}]
    assert data["outcome"] == "human"
    assert "Jane Doe" not in str(data["_text"])
    report = whatif(tmp_path / "out")
    assert report["landed"] == {"other": 1}


def test_import_of_a_directory_then_coverage_and_an_improved_flow(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = ivr("import", str(HERE), "--flow", "card-services", "--out", str(out),
              "--clock", CLOCK, *AMAZON)
    assert res.exit_code == 0, res.output
    assert "wrote 5 transcript(s)" in res.output
    two = tmp_path / "two"
    res = ivr("import", "-j", "2", str(HERE), "--flow", "card-services", "--out", str(two),
              "--clock", CLOCK, *AMAZON)
    assert res.exit_code == 0, res.output
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        p.name: p.read_text() for p in two.iterdir()}
    cov = ivr("replay", "--coverage", str(out))
    assert "coverage:\n  card-services: states" in cov.output
    fixed = tmp_path / "card-services.yaml"
    fixed.write_text(found_card_flow())
    res = ivr("replay", "--what-if", str(out), "--against", str(fixed))
    assert res.exit_code == 0, res.output
    assert "2 of 5 call(s) move" in res.output
    # the picked-up card goes straight there; the sidewalk one (two words of eight are the
    # intent's) is asked about first, and the old system's caller never answered "yes"
    assert "other -> found_card: 1" in res.output and "other -> person: 1" in res.output
    html = tmp_path / "report.html"
    res = ivr("replay", "--what-if", str(out), "--against", str(fixed), "--html", str(html))
    page = html.read_text()
    assert "found_card" in page and "<script" not in page and "http" not in page.split(
        "<body>")[1].split("</footer>")[0].replace(str(out), "")


def found_card_flow() -> str:
    """card-services with a found-card intent: what the what-if report asks for."""
    text = (Path(__file__).parents[2] / "flows" / "card-services.yaml").read_text()
    anchor = '      other:\n        keys: ["9"]\n        phrases: ["something else", "none'
    assert text.count(anchor) == 1
    text = text.replace(anchor, '      found_card:\n        phrases: ["found someone\'s card", '
                        '"found somebody\'s card", "found a card", "picked up a card", '
                        '"give it back"]\n        goto: human\n' + anchor)
    return text


# --- bad input ----------------------------------------------------------------------------

def refused(tmp_path: Path, name: str, content: str, *extra: str) -> str:
    bad = tmp_path / name
    bad.write_text(content)
    res = ivr("import", str(bad), "--flow", "card-services", "--out", str(tmp_path / "o"),
              *extra)
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit), res.exception  # an error, not a crash
    assert "Traceback" not in res.output
    return res.output


def test_broken_json_names_the_line(tmp_path: Path) -> None:
    out = refused(tmp_path, "t.json", '{"sentences": [\n  {"media_channel": 1,,}\n]}')
    assert f"error: {tmp_path / 't.json'}:2: not valid JSON" in out


def test_json_of_the_wrong_shape_names_the_path(tmp_path: Path) -> None:
    out = refused(tmp_path, "t.json", json.dumps({"sentences": [{"media_channel": "one",
                                                                 "transcript": "hi"}]}))
    assert "$.sentences[0].media_channel: expected int, got str 'one'" in out
    out = refused(tmp_path, "a.json", json.dumps({"Transcript": [{"ParticipantRole": "AGENT"}]}))
    assert "$.Transcript[0]: missing 'Content'" in out


def test_vtt_with_no_caller(tmp_path: Path) -> None:
    out = refused(tmp_path, "c.vtt", "WEBVTT\n\n00:00.000 --> 00:02.000\n<v IVR>Hello\n\n"
                  "00:03.000 --> 00:04.000\n<v Agent>Hi, Sam here\n")
    assert "no caller turn before a person took over: nothing to replay" in out
    assert "--speaker 'LABEL=caller'" in out


def test_unknown_speaker_lists_the_option(tmp_path: Path) -> None:
    out = refused(tmp_path, "c.txt", "IVR: hello\nBob: my card is gone\nRobot: sorry\n")
    assert "unknown speaker(s): 'Bob' (line 2), 'Robot' (line 3)" in out
    assert "--speaker 'Bob=caller'" in out
    res = ivr("import", str(tmp_path / "c.txt"), "--flow", "card-services", "--out",
              str(tmp_path / "o"), "--speaker", "Bob=caller", "--speaker", "robot=system")
    assert res.exit_code == 0, res.output


def test_empty_file_and_cue_without_speaker(tmp_path: Path) -> None:
    assert "empty file: no call to import" in refused(tmp_path, "e.txt", "  \n")
    out = refused(tmp_path, "n.srt", "1\n00:00:01,000 --> 00:00:02,000\nhello there\n")
    assert "n.srt:3: cue has no speaker" in out


def test_format_option_overrides_the_extension(tmp_path: Path) -> None:
    vtt_as_txt = tmp_path / "call.txt"
    vtt_as_txt.write_text((HERE / "balance-pin.vtt").read_text())
    out = refused(tmp_path, "call2.txt", (HERE / "balance-pin.vtt").read_text())
    assert "call2.txt:1: expected 'Speaker: words'" in out
    res = ivr("import", str(vtt_as_txt), "--format", "webvtt", "--flow", "card-services",
              "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    out = refused(tmp_path, "x.srt", "1\n00:00:01,000 --> 00:00:02,000\nCaller: hi\n",
                  "--format", "webvtt")
    assert "a WebVTT file starts with 'WEBVTT'" in out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    call = HERE / "found-card.txt"
    res = ivr("import", str(call), "--flow", "card-servces")
    assert res.exit_code == 2 and "did you mean 'card-services'" in res.output
    res = ivr("import", str(call), "--flow", "card-services", "--speaker", "Bob")
    assert res.exit_code == 2 and "LABEL=ROLE" in res.output
    res = ivr("replay", "--json", str(HERE))
    assert res.exit_code == 2


def test_a_good_file_is_written_when_another_is_bad(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.txt").write_text("IVR: hi\nCaller: lost my card\n")
    (tmp_path / "in" / "bad.json").write_text("{")
    res = ivr("import", str(tmp_path / "in"), "--flow", "card-services", "--out",
              str(tmp_path / "o"))
    assert res.exit_code == 1
    assert (tmp_path / "o" / "good.yaml").exists() and "bad.json:1: not valid JSON" in res.output


def test_secrets_are_masked_in_speech_and_prompts() -> None:
    built = import_file(str(HERE / "found-card.txt"), Options("card-services", Speakers()))
    assert built.taken_over
    assert caller_step(Turn("Caller", "my pin is 4321 thanks", "line 1", role="caller"),
                       False) == {"say": "my pin is **** thanks"}
    assert caller_step(Turn("Caller", "four three two one", "line 1", role="caller"),
                       True) == {"press": "1111"}
    card = caller_step(Turn("Caller", "[DTMF 4111111111111111]", "line 1", role="caller"),
                       False)
    assert card is not None and len(card["press"]) == 16 and not is_card_number(card["press"])
    assert card["press"] != "4111111111111111"
    with pytest.raises(BadInput, match="no keys"):
        caller_step(Turn("DTMF", "pound", "line 4", role="keys"), False)
