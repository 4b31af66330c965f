"""The one transcript writer: what simulate, the console and export write reads back as
the same data, in the house style."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from ivr.qa.writer import _emit, _OneLine, dump

DATA = {"flow": "card-services", "name": "simulated call to card-services",
        "clock": "2026-11-20T14:05:00-05:00",
        "steps": [{"expect": {"state": "main_menu"}}, {"press": "250#"}, {"press": "010"},
                  {"say": "it's on: yes", "confidence": 0.3}, {"silence": True},
                  {"expect": {"state": "no", "says": "lost or stolen"}}],
        "version": "0123456789ab", "outcome": "voicemail"}


def test_house_style() -> None:
    text = dump(DATA)
    assert text.startswith("flow: card-services\nname: \"simulated call to card-services\"\n")
    assert '  - press: "250#"\n' in text and '  - press: "010"\n' in text
    assert "  - expect: {state: main_menu}\n" in text
    assert '  - expect: {state: "no", says: "lost or stolen"}\n' in text
    assert "    confidence: 0.3\n  - silence: true\n" in text
    assert text.endswith('version: "0123456789ab"\noutcome: voicemail\n')


def test_reads_back_as_the_same_data() -> None:
    assert yaml.safe_load(dump(DATA)) == DATA


@given(st.text(max_size=80))
def test_any_words_read_back_as_said(words: str) -> None:
    data = {"flow": "f", "steps": [{"say": words}, {"expect": {"says": words}}]}
    assert yaml.safe_load(dump(data)) == data


@given(st.lists(st.one_of(
    st.builds(lambda w: {"say": w}, st.text(max_size=40)),
    st.builds(lambda k: {"press": k}, st.from_regex(r"[0-9*#]{1,6}", fullmatch=True)),
    st.builds(lambda n: {"record": {"seconds": n}}, st.integers(1, 99)),
    st.builds(lambda w: {"expect": {"says": w}}, st.text(max_size=20))), max_size=5),
    st.text(max_size=30))
def test_libyaml_and_python_emitters_write_the_same_text(steps: list[dict[str, object]],
                                                         name: str) -> None:
    data = {"flow": "f", "name": name or "n", "steps": steps, "outcome": "open"}
    data["steps"] = [{k: _OneLine(v) if k == "expect" else v for k, v in s.items()}
                     for s in steps]
    assert _emit(data, fast=True) == _emit(data, fast=False)
