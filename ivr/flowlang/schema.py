"""The JSON Schema of the flow format, and the structure check built on it.

One schema serves two readers: editors (``ivr schema`` prints it for autocompletion) and
the structure phase of ``ivr validate``, which turns each jsonschema error into a
:class:`~ivr.flowlang.diagnostics.Problem` at the right line with "expected one of" and
"did you mean" (through :mod:`ivr.flowlang.schema_errors`, with the ``IVR1xx`` codes).
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.model import SPEECH_MODELS
from ivr.flowlang.positions import Source
from ivr.flowlang.schema_errors import SchemaCodes, schema_problems

_TEXT = {"type": "string", "minLength": 1}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
_DTMF = {"type": "string", "pattern": "^[0-9*#]{1,4}$",
         "description": "DTMF keys, quoted: '1', '0', '#'"}
_KEYS = {"type": "array", "items": _DTMF, "uniqueItems": True}
_PHRASES = {"type": "array", "items": _TEXT}
_E164 = {"type": "string", "description": "E.164 phone number, e.g. '+15551230000'"}
FLOW_ID = "^[a-z0-9][a-z0-9-]*$"
_RETRY = {"type": "integer", "minimum": 0, "maximum": 5}

RETRIES = {
    "type": "object",
    "description": "How many times to re-prompt after silence / no match, then where to go.",
    "properties": {"no_input": _RETRY, "no_match": _RETRY, "then": _TEXT},
    "additionalProperties": False,
}

INTENT = {
    "type": "object",
    "description": "One menu choice: keys and/or phrases, and where it goes.",
    "properties": {
        "keys": _KEYS,
        "phrases": _PHRASES,
        "not": {**_PHRASES, "description": "Phrases that must NOT match this intent."},
        "goto": _TEXT,
        "confirm": {**_TEXT, "description": "Asked when a speech match is plausible but unsure."},
    },
    "required": ["goto"],
    "additionalProperties": False,
}

COLLECT = {
    "type": "object",
    "description": "Digits entry into a named slot.",
    "properties": {
        "slot": _NAME,
        "min_digits": {"type": "integer", "minimum": 1, "maximum": 32},
        "max_digits": {"type": "integer", "minimum": 1, "maximum": 32},
        "sensitive": {"type": "boolean", "description": "Never store the digits (PIN, CVV)."},
    },
    "required": ["slot", "max_digits"],
    "additionalProperties": False,
}

_LANG = {"type": "string", "pattern": "^[a-z]{2,3}(-[A-Z]{2})?$",
         "description": "Language code, e.g. es-US"}
STATE_TRANSLATION = {
    "type": "object",
    "description": "The state's texts in one language (the keys it has in the default one).",
    "properties": {
        **{k: _TEXT for k in ("say", "ask", "capture", "voicemail", "goodbye", "reprompt")},
        "intents": {"type": "object", "propertyNames": _NAME, "additionalProperties": {
            "type": "object", "properties": {"phrases": _PHRASES, "not": _PHRASES,
                                             "confirm": _TEXT},
            "additionalProperties": False}},
    },
    "additionalProperties": False,
}
TRANSLATIONS = {"type": "object", "propertyNames": _LANG,
                "additionalProperties": STATE_TRANSLATION,
                "description": "Language code → texts in that language."}

SPEECH = {
    "type": "object",
    "description": "How Twilio listens (<Gather>): speech model, the pause that ends the "
                   "caller's words, extra hints, the recogniser's language.",
    "properties": {
        "model": {"enum": list(SPEECH_MODELS), "description": "Twilio speechModel"},
        "timeout": {"type": ["string", "integer", "number"],  # its values: checks.rules
                    "description": "speechTimeout: auto, or whole seconds (whole seconds "
                                   "whenever a model is set)"},
        "hints": {**_PHRASES, "description": "Words and phrases to expect, besides the "
                                             "menu's phrases"},
        "language": {"type": "string", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                     "description": "Recogniser language (BCP-47), e.g. en-GB"},
    },
    "additionalProperties": False,
}

STATE = {
    "type": "object",
    "description": "A step of the call. Its kind is the one of say/ask/capture/voicemail/"
                   "goodbye/hours it has.",
    "properties": {
        "say": {**_TEXT, "description": "Announcement, then `next`."},
        "ask": {**_TEXT, "description": "Prompt that waits for the caller: a menu (`intents`) "
                                        "or a digit entry (`collect`)."},
        "capture": {**_TEXT, "description": "'Other' capture: ask why they call, then `then`."},
        "voicemail": {**_TEXT, "description": "Record a message and request a callback."},
        "goodbye": {**_TEXT, "description": "Say this and hang up: the only way a call ends."},
        "hours": {"type": "object", "description": "Branch on business hours.",
                  "properties": {"open": _TEXT, "closed": _TEXT},
                  "required": ["open", "closed"], "additionalProperties": False},
        "reprompt": {**_TEXT, "description": "Shorter prompt used after a retry."},
        "intents": {"type": "object", "minProperties": 1,
                    "propertyNames": _NAME, "additionalProperties": INTENT},
        "collect": COLLECT,
        "next": _TEXT,
        "then": _TEXT,
        "retries": RETRIES,
        "record": {"type": "boolean", "description": "capture: record the caller's words "
                   "(audio + Twilio transcription) instead of speech recognition only"},
        "translations": TRANSLATIONS,
        "speech": SPEECH,
    },
    "additionalProperties": False,
}

HUMAN = {
    "type": "object",
    "description": "The escape hatch: where a person is, and how callers ask for one.",
    "properties": {
        "dial": _E164,
        "enqueue": _NAME,
        "keys": {**_KEYS, "minItems": 1},
        "phrases": {**_PHRASES, "minItems": 1},
        "timeout": {"type": "integer", "minimum": 5, "maximum": 120},
        "when_closed": {**_TEXT, "description": "State used outside business hours "
                                                "(a voicemail state); default: built-in "
                                                "voicemail."},
        "callback_promise": {**_TEXT, "description": "When callers are told to expect a call."},
        "translations": {"type": "object", "propertyNames": _LANG, "additionalProperties": {
            "type": "object", "properties": {"phrases": _PHRASES, "callback_promise": _TEXT},
            "additionalProperties": False}},
    },
    "required": ["keys", "phrases"],
    "additionalProperties": False,
}

HOURS = {
    "type": "object",
    "properties": {
        "timezone": {"type": "string", "description": "IANA name, e.g. America/New_York"},
        "open": {"type": "object", "description": "Days → 'HH:MM-HH:MM', e.g. mon-fri: "
                                                  "'08:00-20:00'",
                 "additionalProperties": {"type": "string"}},
        "holidays": {"type": "string", "description": "Country code for the holidays package"},
    },
    "required": ["timezone", "open"],
    "additionalProperties": False,
}

_MATCHING = {
    "threshold": "a number such as 0.6 (0 to 1): below it, speech goes to `other` "
                 "(default 0.62)",
    "margin": "a number such as 0.08 (0 to 1): the best two intents closer than this go to "
              "`other` (default 0.08)",
    "confirm_below": "a number such as 0.75 (0 to 1): below it the caller is asked \"is that "
                     "right?\" (default 0.75)",
    "meaning_veto": "a number such as 0.1 (0 to 1), for semantic_matching: \"not this menu\" "
                    "nearer than the intent by this turns it into `other` (default 0.10)",
    "meaning_margin": "a number such as 0.14 (0 to 1), for semantic_matching: the intent "
                      "nearer than \"not this menu\" by this routes unasked (default 0.14)",
    "meaning_sure": "a number such as 0.7 (0 to 1), for semantic_matching: an `other` this "
                    "near (cosine) to an intent is asked about (default 0.70)",
}

FLOW_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/ivr/ivr/flow.schema.json",
    "title": "ivr call flow",
    "type": "object",
    "properties": {
        "flow": {**_TEXT, "pattern": FLOW_ID, "description": "Flow id (URL-safe)"},
        "description": _TEXT,
        "start": _TEXT,
        "language": {"type": "string", "description": "Speech language, e.g. en-US"},
        "voice": {"type": "string", "description": "Twilio voice, e.g. Polly.Joanna"},
        "human": HUMAN,
        "hours": HOURS,
        "retries": RETRIES,
        "languages": {
            "type": "object", "propertyNames": _LANG,
            "description": "Other languages, each chosen by pressing its key in any menu; "
                           "`offer` is spoken (in that language) at the first prompt.",
            "additionalProperties": {
                "type": "object", "properties": {"key": _DTMF, "offer": _TEXT,
                                                 "voice": {"type": "string"}},
                "required": ["key", "offer"], "additionalProperties": False}},
        "matching": {
            "type": "object",
            "properties": {k: {"type": "number", "minimum": 0, "maximum": 1,
                               "description": text}
                           for k, text in _MATCHING.items()},
            "additionalProperties": False,
        },
        "speech": SPEECH,
        "states": {"type": "object", "minProperties": 1, "propertyNames": _NAME,
                   "additionalProperties": STATE},
    },
    "required": ["flow", "start", "human", "states"],
    "additionalProperties": False,
}

_VALIDATOR = Draft202012Validator(FLOW_SCHEMA)


FLOW_CODES = SchemaCodes(
    wrong_type="IVR101", missing_key="IVR102", unknown_key="IVR103", bad_value="IVR104",
    patterns={
        _DTMF["pattern"]: ("is not a DTMF key", "keys are 1-4 of 0-9, * and #, quoted: '1'"),
        _NAME["pattern"]: ("is not a valid name",
                           "use lower_snake_case: a letter, then letters, digits and _"),
        FLOW_ID: ("is not a valid flow id", "use lowercase letters, digits and -, "
                                            "e.g. card-services"),
    },
    name_hint="use lower_snake_case: a letter, then letters, digits and _ (e.g. main_menu)")


def check_structure(src: Source) -> list[Problem]:
    """Structure problems of ``src.data``: types, required and unknown keys, values."""
    if not isinstance(src.data, dict):
        return [src.problem("IVR101", "a flow file must be a mapping of settings", (),
                            "start with 'flow: <name>' (see flows/ for examples)")]
    return schema_problems(src, _VALIDATOR, FLOW_CODES)
