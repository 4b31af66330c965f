"""A card number, pressed and spoken, at every prompt of every flow: never at rest.

Afterwards every place a call leaves a trace is searched: every Redis key and value (call
state, stored TwiML, transcripts, RQ job payloads), the SQLite archive files (WAL too),
the job spool, and the stderr of gunicorn and the workers.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from ivr.flowlang.catalog import load_dir
from ivr.flowlang.machine import Compiled
from ivr.runtime.actions import Gather
from ivr.runtime.engine import step
from ivr.runtime.events import CallState, Event
from tests.reliability.harness import (
    CLOCK,
    STATS,
    Stack,
    check_twiml,
    dump_redis,
    reaches_person,
)
from tests.twilio_caller import TwilioCaller, http_transport

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.redis]

CARD = "4012888888881881"                     # Luhn-valid test Visa, used only here
SPOKEN = "four zero one two eight eight eight eight eight eight eight eight one eight eight one"
FORMS = {"pressed": {"Digits": CARD},
         "said": {"SpeechResult": "my card number is 4012 8888 8888 1881", "Confidence": ".9"},
         "dashed": {"SpeechResult": f"it's {CARD[:4]}-{CARD[4:8]}-{CARD[8:12]}-{CARD[12:]}",
                    "Confidence": "0.7"},
         "spoken": {"SpeechResult": SPOKEN, "Confidence": "0.55"}}
LEAK = re.compile(r"4\W{0,3}0\W{0,3}1\W{0,3}2\W{0,3}8\W{0,3}8\W{0,3}8\W{0,3}8\W{0,3}8\W{0,3}8"
                  r"\W{0,3}8\W{0,3}8\W{0,3}1\W{0,3}8\W{0,3}8\W{0,3}1"
                  r"|four\W+zero\W+one\W+two\W+eight", re.IGNORECASE)


def prompts(c: Compiled) -> dict[str, list[str]]:
    """Every state that gathers input, with the key presses that reach it (engine BFS)."""
    now = datetime.fromisoformat(CLOCK)
    call, _ = step(c, CallState("CAbfs", c.flow.id, c.flow.version), Event.start(now))
    found = {call.state: list[str]()}
    queue = [(call, list[str]())]
    while queue:
        call, path = queue.pop(0)
        s = c.flow.states.get(call.state)
        if s is None or call.ended:
            continue
        keys = [i.keys[0] for i in s.intents if i.keys]
        if s.collect:
            keys.append("1" * s.collect.min_digits)
        for key in keys:
            nxt, actions = step(c, call, Event.press(key, now))
            if nxt.state not in found and any(isinstance(a, Gather) for a in actions):
                found[nxt.state] = path + [key]
                queue.append((nxt, path + [key]))
    return found


@pytest.fixture(scope="module")
def leaks(stack: Stack) -> list[str]:
    """Place the calls once; every place a card number was found afterwards."""
    catalog, failed = load_dir([str(stack.flows)])
    assert not failed
    placed = 0
    reached: set[str] = set()
    for flow_id in ("card-services", "clinic-appointments"):
        c = catalog.get(flow_id)
        assert c is not None
        targets = prompts(c)
        assert len(targets) >= 5, targets
        for state, path in targets.items():
            for form in FORMS.values():
                call = TwilioCaller(http_transport(), base=stack.base, flow=flow_id)
                call.dial()
                for key in path:
                    call.press(key)
                call.post(call.gather_action(), call.params(**form))
                check_twiml(call.last.text)  # type: ignore[union-attr]
                for _ in range(3):            # then to a person, however the flow goes on
                    if reaches_person(call.last.text):  # type: ignore[union-attr]
                        break
                    call.post(call.gather_action(), call.params(Digits="0"))
                assert reaches_person(call.last.text), call.last.text  # type: ignore[union-attr]
                call.hangup()
                placed += 1
                reached.add(state)
    STATS["calls"] += placed
    STATS["reached_human"] += placed
    STATS["attacks"] += placed
    assert {"main_menu", "balance", "lost_card", "other", "book_dob", "refill_rx"} <= reached
    stack.drain()                               # archive everything
    leaks: list[str] = []
    for key, text in dump_redis(stack.conn()).items():
        if LEAK.search(key) or LEAK.search(text):
            leaks.append(f"redis {key}: ...{_around(text)}...")
    files = [*stack.tmp.glob("archive.db*"), *stack.spool.glob("*"), stack.web_log,
             stack.worker_log]
    for f in files:
        if f.is_file():
            text = f.read_bytes().decode("latin-1")
            if LEAK.search(text):
                leaks.append(f"{f.name}: ...{_around(text)}...")
    STATS["card_leaks"] += len(leaks)
    return leaks


# ivr/engine.py _on_menu keeps a menu's key presses raw: ``t.call.heard = e.digits``.
def test_card_numbers_at_every_prompt_are_never_at_rest(leaks: list[str]) -> None:
    assert leaks == []


def _around(text: str) -> str:
    m = LEAK.search(text)
    return text[max(0, m.start() - 80):m.end() + 20] if m else ""
