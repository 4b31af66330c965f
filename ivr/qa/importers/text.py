"""Plain speaker-labelled text: one ``Label: words`` line per turn.

::

    IVR: Thanks for calling. For a lost card, press 1.
    Caller: I found somebody's card on the street
    Caller: [DTMF 0]
    [01:02] Agent: Hi, this is Sam, how can I help?

A line may start with a time (``[01:02]``, ``00:01:02``); a line without a label goes on
the turn above (a long sentence wrapped); blank lines and ``#`` comments are skipped.
Labels are mapped to roles by :class:`ivr.qa.importers.model.Speakers`.
"""

from __future__ import annotations

import re

from ivr.qa.importers.model import BadInput, Call, Turn

_LINE = re.compile(r"^\s*(?:[\[(]?(?P<time>(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?)[\])]?\s+)?"
                   r"(?P<label>[^\W\d][\w .'()/-]{0,40}?)\s*:\s*(?P<text>.*)$")


def seconds(clock: str) -> float:
    """``01:02`` / ``00:01:02.5`` / ``00:01:02,500`` → seconds."""
    parts = clock.replace(",", ".").split(":")
    total = 0.0
    for part in parts:
        total = total * 60 + float(part)
    return total


def read(text: str, file: str) -> Call:
    """The turns of a speaker-labelled text file."""
    turns: list[Turn] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            if not turns:
                raise BadInput(file, f"line {n}", f"expected 'Speaker: words', got {line!r}",
                               "start each turn with its speaker, e.g. 'Caller: I lost my "
                               "card' or 'IVR: Press 1 for ...'")
            last = turns[-1]
            turns[-1] = Turn(last.speaker, f"{last.text} {line.strip()}", last.where, last.at)
            continue
        at = seconds(m.group("time")) if m.group("time") else None
        turns.append(Turn(m.group("label").strip(), m.group("text").strip(), f"line {n}", at))
    return Call(file, "text", turns)
