"""SubRip captions (``.srt``) with speakers: a ``Caller:`` prefix or a ``<v Caller>`` span.

::

    1
    00:00:01,000 --> 00:00:05,000
    IVR: Thanks for calling. For a lost card, press 1.

    2
    00:00:06,000 --> 00:00:08,500
    Caller: I found somebody's card

Each block is a sequence number, the timing line (comma before the milliseconds) and
the text. See :mod:`ivr.qa.importers.captions`.
"""

from __future__ import annotations

from ivr.qa.importers.captions import TIMING, blocks, cue_start, cue_turns
from ivr.qa.importers.model import BadInput, Call, Turn


def read(text: str, file: str) -> Call:
    """The turns of an SRT file."""
    turns: list[Turn] = []
    for n, lines in blocks(text.removeprefix("\ufeff")):
        timing = 1 if lines[0].strip().isdigit() else 0
        if len(lines) <= timing or not TIMING.match(lines[timing]):
            got = lines[timing] if len(lines) > timing else lines[0]
            raise BadInput(file, f"line {n + timing}",
                           "expected a timing like '00:00:01,000 --> 00:00:04,000', got "
                           f"{got[:60]!r}", "each SRT block is a number, a timing line, "
                           "then the text")
        turns += cue_turns("\n".join(lines[timing + 1:]), cue_start(lines[timing]), file,
                           n + timing + 1)
    return Call(file, "srt", turns)
