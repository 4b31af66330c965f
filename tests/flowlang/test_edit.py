"""Text edits of a flow that keep its comments and formatting (the inbox's draft edits)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from ivr.flowlang.catalog import check_text
from ivr.flowlang.diagnostics import errors_in
from ivr.flowlang.edit import EditError, add_intent, add_phrases, quoted

ROOT = Path(__file__).resolve().parents[2]
CARD = (ROOT / "flows" / "card-services.yaml").read_text()
TRICKY = ['say "hi": now', "it's #1 for me", "50% off: yes", "  spaced   out  ", "no\\way"]
SMALL = """\
flow: small
start: menu
human: {dial: "+15551230000", keys: ["0"], phrases: [agent]}
states:
  menu:
    ask: "Say billing, or tell me what you need."
    intents:
      billing:            # the bills
        keys: ["1"]
        phrases:
          - billing       # a comment on an item
          - "pay my bill"
        goto: human
      hours: {keys: ["2"], goto: human}
      # none of these: a person
      other: {keys: ["9"], goto: human}
"""


def changed(before: str, after: str) -> list[str]:
    """The lines the edit added and removed, as a diff shows them."""
    return [d for d in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
            if d[:1] in "+-" and not d.startswith(("+++", "---"))]


def intents(text: str, state: str) -> dict[str, object]:
    checked = check_text(text)
    assert errors_in(checked.problems) == [], [p.message for p in checked.problems]
    assert checked.flow is not None
    return {i.name: i for i in checked.flow.states[state].intents}


def test_quoted_is_yaml_text_whatever_the_caller_said() -> None:
    for phrase in TRICKY:
        assert yaml.safe_load(f"x: {quoted(phrase)}")["x"] == " ".join(phrase.split())


def test_phrases_join_a_flow_list_and_nothing_else_changes() -> None:
    out = add_phrases(CARD, "main_menu", "balance", ["what's my cash back balance", *TRICKY])
    diff = changed(CARD, out)
    assert len([d for d in diff if d.startswith("-")]) == 1  # only the list's last line
    assert diff[0].endswith('"account balance", "remaining balance", "credit limit"]')
    assert all(len(d) <= 101 for d in diff if d.startswith("+"))
    got = intents(out, "main_menu")["balance"].phrases  # type: ignore[attr-defined]
    assert got[-6:] == ("what's my cash back balance", 'say "hi": now', "it's #1 for me",
                        "50% off: yes", "spaced out", "no\\way")
    assert out.count("#") == CARD.count("#") + 1  # comments kept (and one '#' phrase)


def test_phrases_join_a_block_list_keeping_its_comments() -> None:
    out = add_phrases(SMALL, "menu", "billing", ["billing", "Pay My Bill", "invoice: late"])
    assert changed(SMALL, out) == ['+          - "invoice: late"']  # known ones skipped
    assert "# a comment on an item" in out and "# none of these: a person" in out
    assert intents(out, "menu")["billing"].phrases == (  # type: ignore[attr-defined]
        "billing", "pay my bill", "invoice: late")


def test_an_intent_without_phrases_gets_a_list() -> None:
    out = add_phrases(SMALL, "menu", "hours", ["when are you open"])
    assert changed(SMALL, out)[1] == \
        '+      hours: {phrases: ["when are you open"], keys: ["2"], goto: human}'
    assert intents(out, "menu")["hours"].phrases == ("when are you open",)  # type: ignore[attr-defined]


def test_a_new_intent_goes_before_other_and_its_comment_with_a_note() -> None:
    out = add_intent(SMALL, "menu", "found_card", ["I found a card", 'it says "Ana": hers'],
                     "from the inbox: 6 callers")
    assert changed(SMALL, out) == [
        "+      # from the inbox: 6 callers",
        '+      found_card: {phrases: ["I found a card", "it says \\"Ana\\": hers"], goto: human}']
    lines = out.splitlines()
    assert lines.index("      # none of these: a person") == \
        lines.index("+      # from the inbox: 6 callers"[1:]) + 2
    got = intents(out, "menu")
    assert list(got)[-2:] == ["found_card", "other"]
    assert got["found_card"].goto == "human"  # type: ignore[attr-defined]


def test_a_new_intent_in_the_shipped_flow_validates_with_no_errors() -> None:
    out = add_intent(CARD, "main_menu", "credit_limit", ["can you raise my limit"], "inbox")
    checked = check_text(out)
    assert errors_in(checked.problems) == []
    assert [p.code for p in checked.problems] == ["W206"]  # no Spanish phrases yet: a warning
    out = add_intent(CARD, "after_hours", "lost_pin", ["I forgot my PIN"])  # a flow mapping
    assert changed(CARD, out) == [
        '+      lost_pin: {phrases: ["I forgot my PIN"], goto: human}']
    assert "lost_pin" in intents(out, "after_hours")


def test_edits_that_cannot_be_made_say_why() -> None:
    with pytest.raises(EditError, match="not a menu"):
        add_phrases(CARD, "welcome", "x", ["a"])
    with pytest.raises(EditError, match="no intent 'nope'"):
        add_phrases(CARD, "main_menu", "nope", ["a"])
    with pytest.raises(EditError, match="already has these"):
        add_phrases(CARD, "main_menu", "balance", ["Balance"])
    with pytest.raises(EditError, match="already has an intent"):
        add_intent(CARD, "main_menu", "balance", ["a"])
    with pytest.raises(EditError, match="does not load"):
        add_intent("flow: [", "main_menu", "x", ["a"])
    with pytest.raises(EditError, match="no phrases"):
        add_intent(CARD, "main_menu", "x", ["  "])


def test_a_long_new_intent_is_written_one_phrase_a_line() -> None:
    said = ["I found somebody's credit card on the sidewalk", "picked up a card someone dropped",
            "there's a card here that isn't mine"]
    out = add_intent(CARD, "main_menu", "found_card", said, "from the inbox")
    assert changed(CARD, out) == [
        "+      # from the inbox", "+      found_card:", "+        phrases:",
        *(f'+          - "{p}"' for p in said), "+        goto: human"]
    assert intents(out, "main_menu")["found_card"].phrases == tuple(said)  # type: ignore[attr-defined]


ODD = ["nul\x00here", "line\u2028break", "tab\tand\nnewline", "🙂 emoji only 🙂", "---",
       "- item", "{a: b}", "[x]", "&anchor", "*alias", "!tag", "% percent", "@at", "`tick`",
       "? key", "| pipe", "> fold", "'single'", "back\\slash", "ñandú çà", "кириллица", "中文"]


def test_any_words_a_caller_said_become_text_and_the_flow_still_checks() -> None:
    out = add_intent(CARD, "main_menu", "odd", ODD)
    got = intents(out, "main_menu")["odd"].phrases  # type: ignore[attr-defined]
    assert got[:3] == ("nulhere", "line break", "tab and newline") and got[3:] == tuple(ODD[3:])
    out = add_phrases(SMALL, "menu", "billing", ODD)
    assert intents(out, "menu")["billing"].phrases[2:] == got  # type: ignore[attr-defined]
