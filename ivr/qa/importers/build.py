"""A read call → a replayable transcript (plain data for :func:`ivr.qa.writer.dump`).

The caller's turns before a person took over become ``say:`` steps (``press:`` where keys
were logged, or where a digit entry answered a prompt for a secret); what the old system
said is kept as comments above the step it led to. Consecutive caller sentences with no
prompt between them are one turn (what one Gather would have heard). Nothing sensitive
leaves: card numbers are masked (:func:`ivr.runtime.redact.redact_text`), a PIN or other
secret typed or said after a prompt that asks for one becomes same-length placeholder
keys (:func:`ivr.qa.export.placeholder`), and "my PIN is 1234" keeps its words with the
digits starred. The agent's words are never copied. ``outcome`` is ``human`` when the
source shows a person taking over, else ``open`` (replay asserts nothing about the end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ivr.qa.export import placeholder
from ivr.qa.importers.model import BadInput, Call, Turn
from ivr.qa.transcript import parse_clock
from ivr.runtime.redact import MASK, is_card_number, redact_text, words_to_digits

_SECRET_PROMPT = re.compile(r"\b(pin|pins|passcode|pass code|password|security code|cvv|cvc|"
                            r"social security|ssn|card number|account number)\b", re.I)
_SECRET_SAID = re.compile(r"\b(pin|passcode|pass code|password|security code|cvv|cvc|"
                          r"social security|ssn)\b(\D{0,24}?)(\d(?:[\s-]?\d){2,})", re.I)
_NUMBER_WORDS = re.compile(r"^(?:\s*(?:zero|oh|o|one|two|three|four|five|six|seven|eight|"
                           r"nine|\d+)[\s,.-]*)+$", re.I)


@dataclass
class Built:
    """A transcript as plain data plus its comment lines (``dump(data, comments)``)."""

    data: dict[str, Any]
    comments: dict[int, list[str]] = field(default_factory=dict)
    taken_over: bool = False


def _clock(at: float | None) -> str:
    if at is None:
        return ""
    whole = int(at)
    return f" [{whole // 60:02d}:{whole % 60:02d}]"


def _said(t: Turn) -> str:
    return f"{t.speaker}{_clock(t.at)}: {redact_text(t.text)}"


def caller_step(t: Turn, secret: bool, file: str = "") -> dict[str, Any] | None:
    """The step for one caller turn (None when nothing usable was said)."""
    keys = t.keys()
    if keys or t.role == "keys":
        if not keys:
            raise BadInput(file, t.where, f"no keys in the key-press line {t.text!r}",
                           "write the keys pressed, e.g. 'DTMF: 1' or '[pressed 1 2 3]'")
        masked = "*" * len(keys) if secret else keys
        return {"press": placeholder(masked if not is_card_number(keys) else MASK)}
    text = " ".join(t.text.split())
    if not text:
        return None
    if secret and _NUMBER_WORDS.match(text):
        digits = words_to_digits(text)
        return {"press": placeholder("*" * len(digits))} if digits else None
    text = _SECRET_SAID.sub(lambda m: m.group(1) + m.group(2) + "*" * len(
        re.sub(r"\D", "", m.group(3))), redact_text(text))
    step: dict[str, Any] = {"say": text}
    if t.confidence is not None:
        step["confidence"] = round(min(1.0, max(0.0, t.confidence)), 2)
    return step


def build(call: Call, flow: str, clock: str = "", name: str = "") -> Built:
    """The transcript of ``call`` against ``flow``; BadInput when no caller turn comes
    before a person takes over."""
    out = Built({"flow": flow, "name": name or f"imported {call.file}"})
    when = clock or (call.started if parse_clock(call.started, None) else "")
    if when:
        out.data["clock"] = when
    if call.caller:
        out.data["caller"] = call.caller
    steps: list[dict[str, Any]] = []
    pending: list[str] = []
    prompt = ""
    for t in call.turns:
        if t.role == "agent":
            pending.append(f"{t.speaker}{_clock(t.at)} took over here: the rest of the call "
                           "is not replayed")
            out.taken_over = True
            break
        if t.role == "system":
            pending.append(_said(t))
            prompt = t.text
            continue
        step = caller_step(t, bool(_SECRET_PROMPT.search(prompt)), call.file)
        if step is None:
            continue
        if "say" in step and steps and "say" in steps[-1] and not pending:
            steps[-1]["say"] += " " + step["say"]  # one turn, split into sentences
            continue
        if pending:
            out.comments[len(steps)] = pending
        pending, prompt = [], ""
        steps.append(step)
    if not steps:
        raise _no_caller(call)
    if pending:
        out.comments[len(steps)] = pending
    out.data["steps"] = steps
    out.data["outcome"] = "human" if out.taken_over else "open"
    return out


def _no_caller(call: Call) -> BadInput:
    seen = sorted({f"{t.speaker} ({t.role})" for t in call.turns})
    where = next((t.where for t in call.turns if t.role == "agent"), "")
    what = ("no caller turn before a person took over" if where
            else "no caller speaks in this call")
    return BadInput(call.file, where, f"{what}: nothing to replay",
                    f"speakers found: {', '.join(seen) or 'none'}; map the caller's label "
                    "with --speaker 'LABEL=caller', or the old system's with --speaker "
                    "'LABEL=system' (and --person-from SECONDS: when a person joined)")
