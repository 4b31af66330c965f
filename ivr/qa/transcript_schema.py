"""The QA transcript format's vocabulary and JSON Schema (``ivr schema --transcript``).

Caller steps: ``press``, ``say`` (+ ``confidence``), ``silence``, ``hangup``,
``dial_result``/``dial`` (what happened when the person was rung, or how the queue
ended), ``recording: true`` / ``record: {seconds: N}`` / ``record: none`` (a recording
ended, with or without a message) and ``wait: {position, seconds}`` (Twilio asks for the
wait document of a caller in the queue) and ``leg`` (how far the person's phone got while
being rung: ``ringing``, ``answered``...; the caller hears nothing new). See docs/qa.md.
"""

from __future__ import annotations

from typing import Any

from ivr.runtime.events import LEG_PROGRESS

CALLER_KEYS = ("press", "say", "silence", "hangup", "dial_result", "dial", "recording",
               "record", "wait", "leg")
ACTIONS = ("dial", "enqueue", "record", "hangup", "gather", "say", "leave")
OUTCOMES = ("human", "other", "voicemail", "callback", "hangup", "completed", "no-message",
            "callback-machine", "callback-fax", "open")
ANSWERED_BY = ("human", "unknown", "machine_start", "machine_end_beep", "machine_end_silence",
               "machine_end_other", "fax")
OPEN = "open"
"""``outcome: open``: where the call ends is not asserted (``ivr import`` writes it when the
recording does not say how the call ended); the same as leaving ``outcome`` out."""
DIAL_RESULTS = ("completed", "answered", "no-answer", "busy", "failed", "canceled",
                "bridged", "queue-full", "error", "leave")
DEFAULT_CALLER = "+12125550100"
"""Who replayed calls come from unless a transcript says ``caller:``."""
RECORDING_SECONDS = 10
"""How long the message of ``recording: true`` is."""
_TRUE = {"type": "boolean", "const": True}

EXPECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "What must be true after the previous step (all keys optional).",
    "properties": {
        "state": {"type": "string", "minLength": 1,
                  "description": "The state the call is in (e.g. main_menu, human)."},
        "says": {"type": "string", "minLength": 1,
                 "description": "Text the caller heard in the latest turn (substring, any case)."},
        "action": {"enum": list(ACTIONS), "description": "A verb of the latest turn."},
    },
    "additionalProperties": False,
}

STEP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One caller action (press/say/silence/hangup/dial_result/recording/"
                   "record/wait/leg) and/or an expect, checked after it.",
    "properties": {
        "press": {"type": "string", "pattern": "^[0-9*#]{1,40}$",
                  "description": "DTMF keys, quoted: '1', '0#'"},
        "say": {"type": "string", "minLength": 1, "description": "What the caller says."},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                       "description": "Speech recognition confidence of `say` (0..1)."},
        "silence": {**_TRUE, "description": "The caller says nothing (gather timeout)."},
        "hangup": {**_TRUE, "description": "The caller hangs up: the last step."},
        "dial_result": {"enum": list(DIAL_RESULTS),
                        "description": "What happened when the person was rung (or the "
                                       "queue ended: bridged, queue-full)."},
        "dial": {"enum": list(DIAL_RESULTS), "description": "Same as dial_result."},
        "recording": {**_TRUE, "description": "The caller leaves a voicemail "
                                              f"({RECORDING_SECONDS} s)."},
        "record": {"oneOf": [
            {"const": "none", "description": "The recording ended with no message."},
            {"type": "object", "properties": {"seconds": {"type": "integer", "minimum": 1,
                                                          "maximum": 3600}},
             "required": ["seconds"], "additionalProperties": False}],
            "description": "A recording ends: {seconds: 12} of message, or none."},
        "wait": {"type": "object", "description": "Twilio asks for the wait document of a "
                                                  "caller waiting in the queue.",
                 "properties": {"position": {"type": "integer", "minimum": 0,
                                             "maximum": 10000},
                                "seconds": {"type": "integer", "minimum": 0,
                                            "maximum": 86400}},
                 "additionalProperties": False},
        "meant": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                  "description": "What the caller meant by this `say` at a menu: an intent's "
                                 "name, other or human (per-intent accuracy in "
                                 "`ivr replay --coverage`)."},
        "leg": {"enum": list(LEG_PROGRESS),
                "description": "The person's phone, while being rung: initiated, ringing, "
                               "answered or completed (Twilio's <Number> status callback)."},
        "expect": EXPECT_SCHEMA,
    },
    "additionalProperties": False,
}

TRANSCRIPT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/ivr/ivr/transcript.schema.json",
    "title": "ivr QA transcript",
    "type": "object",
    "properties": {
        "flow": {"type": "string", "minLength": 1, "description": "Flow id, e.g. card-services"},
        "version": {"type": "string", "pattern": "^[0-9a-f]{12}$",
                    "description": "Flow version the call is pinned to (ivr export sets it); "
                                   "replay then uses that version's source"},
        "name": {"type": "string", "minLength": 1, "description": "What this call checks."},
        "clock": {"type": "string", "description": "ISO time of the call (fixes business "
                                                   "hours), e.g. 2026-11-20T14:05:00-05:00"},
        "steps": {"type": "array", "items": STEP_SCHEMA},
        "outcome": {"enum": list(OUTCOMES), "description": "Where the call went in the end "
                                                           "(open: not checked)."},
        "callback": {"type": "object", "description": "The call is a callback we placed: "
                     "who answered it (Twilio's answering-machine detection) and which try",
                     "properties": {"answered_by": {"enum": list(ANSWERED_BY)},
                                    "attempt": {"type": "integer", "minimum": 1,
                                                "maximum": 9}},
                     "additionalProperties": False},
        "caller": {"type": "string", "pattern": "^(anonymous|\\+[1-9][0-9]{6,14})$",
                   "description": f"The caller's number (default {DEFAULT_CALLER}), or "
                                  "anonymous when it is withheld"},
    },
    "required": ["flow", "steps"],
    "additionalProperties": False,
}
