"""WebVTT captions (``.vtt``) with speakers: ``<v Caller>`` voice spans or ``Caller:``.

::

    WEBVTT

    00:00:01.000 --> 00:00:05.000
    <v IVR>Thanks for calling. For a lost card, press 1.

    00:00:06.000 --> 00:00:08.500
    <v Caller>I found somebody's card

The file must start with ``WEBVTT`` (after an optional byte order mark); ``NOTE``,
``STYLE`` and ``REGION`` blocks are skipped; a cue's optional identifier line and its
settings (``align:left``) are ignored. See :mod:`ivr.qa.importers.captions`.
"""

from __future__ import annotations

from ivr.qa.importers.captions import TIMING, blocks, cue_start, cue_turns
from ivr.qa.importers.model import BadInput, Call, Turn

_SKIP = ("NOTE", "STYLE", "REGION")


def read(text: str, file: str) -> Call:
    """The turns of a WebVTT file."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0].rstrip("\r")
    if first != "WEBVTT" and not first.startswith(("WEBVTT ", "WEBVTT\t")):
        raise BadInput(file, "line 1", "a WebVTT file starts with 'WEBVTT'",
                       "is it SRT? give --format srt (or name it .srt)")
    turns: list[Turn] = []
    for n, lines in list(blocks(text))[1:]:
        if lines[0].split(" ", 1)[0] in _SKIP:
            continue
        timing = 1 if len(lines) > 1 and TIMING.match(lines[1]) else 0
        if not TIMING.match(lines[timing]):
            raise BadInput(file, f"line {n + timing}",
                           f"expected a cue timing like '00:00:01.000 --> 00:00:04.000', "
                           f"got {lines[timing][:60]!r}")
        turns += cue_turns("\n".join(lines[timing + 1:]), cue_start(lines[timing]), file,
                           n + timing + 1)
    return Call(file, "webvtt", turns)
