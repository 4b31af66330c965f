"""Twilio Voice Intelligence transcript sentences (JSON).

The Transcript Sentence subresource (``GET /v2/Transcripts/{Sid}/Sentences``) lists
``sentences``, each with ``media_channel`` (the channel number), ``sentence_index``,
``start_time`` / ``end_time`` (offsets from the start, in seconds), ``transcript`` (the
text), ``confidence`` and ``sid`` (``GX...``). Accepted: that page as saved
(``{"sentences": [...], "meta": {...}}``), or a bare list of sentences. Who is on which
channel comes from the Transcript resource's ``channel.participants``
(``channel_participant``, ``role``, ``media_participant_id``), when the file carries it
at the top level or under ``transcript``; without it the speakers are ``channel 1``,
``channel 2``... to map with ``--speaker 'channel 1=caller'``. ``media_start_time`` (or
``date_created``) of the transcript becomes the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivr.flowlang.phone import is_e164
from ivr.qa.importers.model import BadInput, Call, Turn, field_of, norm_label, parse_json

DEFAULTS = {"customer": "caller", "caller": "caller", "agent": "agent",
            "human agent": "agent", "ai agent": "system", "virtual agent": "system",
            "ivr": "system"}
"""Participant roles as Twilio names them (Customer, Agent; HUMAN_AGENT, AI_AGENT)."""


def looks_like(data: object) -> bool:
    if isinstance(data, dict):
        return isinstance(data.get("sentences"), list)
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and (
        "media_channel" in data[0] or "mediaChannel" in data[0])


def _meta(data: Any) -> Mapping[str, Any]:
    inner = data.get("transcript") if isinstance(data, dict) else None
    if isinstance(inner, dict):
        return inner
    return data if isinstance(data, dict) else {}


def _participants(meta: Mapping[str, Any]) -> dict[int, tuple[str, str]]:
    """channel number → (role, number) from ``channel.participants``."""
    channel = meta.get("channel")
    out: dict[int, tuple[str, str]] = {}
    parts = channel.get("participants") if isinstance(channel, dict) else None
    for p in parts if isinstance(parts, list) else []:
        if isinstance(p, dict) and isinstance(p.get("channel_participant"), int):
            out[p["channel_participant"]] = (str(p.get("role") or ""),
                                             str(p.get("media_participant_id") or ""))
    return out


def _number(raw: object) -> float | None:
    """Twilio sends offsets and confidences as strings ("4.2"); None when not a number."""
    if isinstance(raw, int | float | str) and not isinstance(raw, bool):
        try:
            return float(raw)
        except ValueError:
            return None
    return None


def read(text: str, file: str) -> Call:
    """The turns of a Twilio sentences JSON file."""
    data: Any = parse_json(text, file)
    if not looks_like(data):
        raise BadInput(file, "$", "expected Twilio transcript sentences: an object with "
                       "'sentences': [...] (or a list of sentences with 'media_channel')")
    sentences: list[Any] = data["sentences"] if isinstance(data, dict) else list(data)
    base = "$.sentences" if isinstance(data, dict) else "$"
    meta = _meta(data)
    people = _participants(meta)
    turns: list[tuple[int, Turn]] = []
    for i, s in enumerate(sentences):
        path = f"{base}[{i}]"
        if not isinstance(s, dict):
            raise BadInput(file, path, f"expected a sentence object, got {type(s).__name__}")
        channel = field_of(s, path, file, "media_channel", "mediaChannel", kind=int)
        words = field_of(s, path, file, "transcript", kind=str)
        order = field_of(s, path, file, "sentence_index", "sentenceIndex", kind=int,
                         required=False)
        role = people.get(channel, ("", ""))[0] if isinstance(channel, int) else ""
        turns.append((order if isinstance(order, int) else i, Turn(
            role or f"channel {channel}", str(words), f"{path}.transcript",
            _number(s.get("start_time", s.get("startTime"))), _number(s.get("confidence")))))
    turns.sort(key=lambda pair: pair[0])
    caller = next((num for role, num in people.values()
                   if DEFAULTS.get(norm_label(role)) == "caller" and is_e164(num)), "")
    started = str(meta.get("media_start_time") or meta.get("date_created") or "")
    return Call(file, "twilio", [t for _, t in turns], started, caller)
