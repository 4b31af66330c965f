"""One jsonschema → Problem translator for flows (IVR1xx) and transcripts (IVR5xx): the
same mistake reads the same in both, with each schema's codes."""

from __future__ import annotations

from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.schema import check_structure
from ivr.flowlang.source import load
from ivr.qa.transcript import parse_transcript


def transcript(text: str) -> list[Problem]:
    return parse_transcript("flow: card-services\n" + text, "t.yaml").problems


def test_a_range_reads_the_same_in_flows_and_transcripts() -> None:
    [p] = transcript("steps:\n  - say: hi\n    confidence: 1.5\n")
    assert (p.code, p.line, p.col) == ("IVR504", 4, 17)
    assert p.message == "confidence: must be at most 1, found 1.5"
    assert p.hint == "use a number from 0 to 1"
    flow = check_structure(load("flow: f\nstart: a\nhuman: {keys: ['0'], phrases: [agent]}\n"
                                "states: {a: {say: hi}}\nmatching: {threshold: 1.5}\n"))
    assert [(q.code, q.message, q.hint) for q in flow] == [
        ("IVR104", "threshold: must be at most 1, found 1.5", "use a number from 0 to 1")]


def test_patterns_enums_and_constants_in_transcripts() -> None:
    press, outcome = transcript("steps:\n  - press: '12a'\noutcome: humna\n")
    assert press.code == "IVR504" and press.message == "press: '12a' has the wrong form"
    assert press.hint == "expected: DTMF keys, quoted: '1', '0#'"
    assert outcome.message == "'humna' is not allowed here"
    assert "(did you mean 'human'?)" in outcome.hint
    [silence] = transcript("steps:\n  - silence: false\n")
    assert (silence.code, silence.message) == ("IVR501", "expected true, found false")
    assert silence.hint == "leave it out instead of setting it to false"


def test_yaml_traps_have_their_own_codes_in_flows_and_the_fix_in_transcripts() -> None:
    [p] = transcript("steps:\n  - say: yes\n")
    assert (p.code, p.message) == ("IVR501", "expected text, found true/false")
    assert p.hint == "quote it: 'yes' (YAML reads yes as a boolean)"
    flow = check_structure(load("flow: f\nstart: a\nhuman: {keys: ['0'], phrases: [agent]}\n"
                                "states: {a: {say: yes}}\n"))
    assert [(q.code, q.hint) for q in flow] == [("IVR004", "quote it: 'yes'")]
