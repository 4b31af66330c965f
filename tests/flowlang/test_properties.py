"""Property tests: random valid flows check clean and compile; random edits never crash."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.flowlang.catalog import check_text
from ivr.flowlang.diagnostics import errors_in
from ivr.flowlang.machine import compile_flow
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event

KINDS = ("menu", "say", "collect")
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
WORDS = st.sampled_from(["billing", "hours", "orders", "returns", "address", "payments",
                         "opening", "delivery", "refund", "account"])


def _menu(i: int, n: int, data: st.DataObject) -> dict[str, Any]:
    """A menu with 'other', an intent to the next state, and a few random ones."""
    targets = [f"s{j}" for j in range(n)] + ["human", "bye", "other"]
    forward = f"s{i + 1}" if i + 1 < n else "human"
    intents: dict[str, Any] = {
        "next_step": {"keys": ["1"], "goto": forward},
        "other": {"keys": ["9"], "phrases": ["something else"], "goto": "other"},
    }
    for k in range(data.draw(st.integers(0, 3))):
        intents[f"choice_{k}"] = {"keys": [str(k + 2)], "goto": data.draw(
            st.sampled_from(targets)), "phrases": [data.draw(WORDS) + f" {k}"]}
    state: dict[str, Any] = {"ask": f"Menu {i}: press 1, 2 or 9.", "intents": intents}
    if data.draw(st.booleans()):
        state["retries"] = {"no_input": data.draw(st.integers(0, 5)),
                            "no_match": data.draw(st.integers(0, 5)), "then": "human"}
    return state


def _state(i: int, n: int, kind: str, data: st.DataObject) -> dict[str, Any]:
    forward = f"s{i + 1}" if i + 1 < n else "human"
    if kind == "menu":
        return _menu(i, n, data)
    if kind == "say":
        return {"say": f"Announcement {i}.", "next": forward}
    digits = data.draw(st.integers(1, 8))
    return {"ask": f"Enter {digits} digits.", "next": forward,
            "collect": {"slot": f"slot_{i}", "min_digits": 1, "max_digits": digits}}


@st.composite
def valid_flows(draw: st.DrawFn) -> str:
    """YAML text of a flow that satisfies every rule: each state is reached from an earlier
    one, announcements only move forward, menus have 'other', and give-ups go to a human."""
    data = draw(st.data())
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=12))
    kinds[-1] = "menu"  # a menu last, so 'bye' is only reachable after a choice
    n = len(kinds)
    states = {f"s{i}": _state(i, n, k, data) for i, k in enumerate(kinds)}
    states[f"s{n - 1}"]["intents"]["done"] = {"keys": ["8"], "goto": "bye"}
    states["other"] = {"capture": "Tell me why you are calling.", "then": "human"}
    states["bye"] = {"goodbye": "Goodbye."}
    human: dict[str, Any] = {"keys": ["0"], "phrases": ["agent", "operator"]}
    human.update(draw(st.sampled_from([{"dial": "+15551230000"}, {"enqueue": "support"}])))
    doc = {"flow": "random", "start": "s0", "human": human, "states": states}
    if draw(st.booleans()):
        doc["retries"] = {"no_input": draw(st.integers(0, 5)), "no_match": 1, "then": "human"}
    style = draw(st.sampled_from([False, None]))
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=style)


@FAST
@given(valid_flows())
def test_random_valid_flows_check_clean_compile_and_start(text: str) -> None:
    checked = check_text(text)
    assert checked.problems == [], (checked.problems, text)
    assert checked.flow is not None
    compiled = compile_flow(checked.flow)
    state, actions = step(compiled, CallState("CA1", "random", ""), Event.start())
    assert actions and state.state in checked.flow.states
    state, _ = step(compiled, state, Event.press("0"))
    assert state.state == "human"


def _mutate(text: str, data: st.DataObject) -> str:
    lines = text.splitlines(keepends=True)
    op = data.draw(st.sampled_from(["delete", "swap", "rename", "tab", "unquote", "dup",
                                    "insert"]))
    i = data.draw(st.integers(0, max(0, len(lines) - 1)))
    if op == "delete" and lines:
        del lines[i]
    elif op == "tab" and lines:
        lines[i] = "\t" + lines[i].lstrip(" ")
    elif op == "dup" and lines:
        lines.insert(i, lines[i])
    elif op == "insert":
        lines.insert(i, data.draw(st.sampled_from(
            ["  x: [\n", "- a\n", ": b\n", "on: yes\n", "  010: x\n", "&a b: *a\n", "'\n"])))
    out = "".join(lines)
    if op == "swap" and len(out) > 1:
        j = data.draw(st.integers(0, len(out) - 2))
        out = out[:j] + out[j + 1] + out[j] + out[j + 2:]
    elif op == "rename":
        name = data.draw(st.sampled_from(["s0", "s1", "human", "other", "bye", "intents"]))
        out = out.replace(name, name[::-1] + "x", data.draw(st.integers(1, 3)))
    elif op == "unquote":
        out = out.replace("'", "", data.draw(st.integers(1, 20)))
    return out


@FAST
@given(valid_flows(), st.data())
def test_mutated_flows_never_raise(text: str, data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 3))):
        text = _mutate(text, data)
    checked = check_text(text, "mutated.yaml")
    for p in checked.problems:
        assert p.code and p.message and p.file == "mutated.yaml"
        assert p.line >= 0 and p.col >= 0
    if checked.flow is not None and not errors_in(checked.problems):
        compile_flow(checked.flow)
    else:
        assert errors_in(checked.problems)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_text_never_raises(blob: str | bytes) -> None:
    from ivr.flowlang.catalog import check_source
    from ivr.flowlang.source import load

    checked = check_source(load(blob, "fuzz.yaml"))
    assert checked.flow is None or not errors_in(checked.problems)
