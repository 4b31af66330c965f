"""What WebVTT and SRT share: cue blocks, cue times and who speaks in a cue.

A cue names its speaker with a WebVTT voice span (``<v Caller>words</v>``, also
``<v.loud Caller>``; SRT files written by captioning tools use them too) or a
``Caller:`` prefix on its text. Other markup (``<i>``, ``<c.x>``, inline timestamps)
is dropped and character references (``&amp;``) are read.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from ivr.qa.importers.model import BadInput, Turn
from ivr.qa.importers.text import seconds

TIMING = re.compile(r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*"
                    r"(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})(?:\s+.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]+)*\s+([^>]+)>(.*?)(?:</v>|(?=<v[\s.])|$)", re.S)
_TAG = re.compile(r"<[^>]*>")
_PREFIX = re.compile(r"^\s*(?:\[(?P<b>[^\]]{1,40})\]|(?P<p>[^\W\d][\w .'-]{0,40}?)\s*:)"
                     r"\s*(?P<t>.*)$", re.S)


def blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of each block between blank lines."""
    start, lines = 0, list[str]()
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            if not lines:
                start = n
            lines.append(line)
        elif lines:
            yield start, lines
            lines = []
    if lines:
        yield start, lines


def _plain(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def cue_turns(payload: str, at: float, file: str, line: int) -> list[Turn]:
    """The turns of one cue's text: one per voice span, else the ``Label:`` prefix."""
    where = f"line {line}"
    voices = _VOICE.findall(payload)
    if voices:
        return [Turn(name.strip(), _plain(words), where, at) for name, words in voices
                if _plain(words)]
    m = _PREFIX.match(_plain(payload))
    if m is None:
        raise BadInput(file, where, f"cue has no speaker: {_plain(payload)[:60]!r}",
                       "mark who speaks with a voice span (<v Caller>...</v>) or a "
                       "'Caller:' prefix")
    return [Turn((m.group("b") or m.group("p")).strip(), m.group("t").strip(), where, at)]


def cue_start(timing: str) -> float:
    m = TIMING.match(timing)
    assert m is not None
    return seconds(m.group("start"))
