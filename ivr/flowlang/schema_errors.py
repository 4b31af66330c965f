"""The one jsonschema → :class:`~ivr.flowlang.diagnostics.Problem` translator.

Flows (:mod:`ivr.flowlang.schema`, codes ``IVR1xx``) and QA transcripts
(:mod:`ivr.qa.transcript`, ``IVR5xx``) are both checked against a JSON Schema; this module
turns each jsonschema error into one problem at the offending value's position, in words
a person who edits YAML understands: "unknown key 'expcet'" with "expected one of ... (did
you mean 'expect'?)", "expected a list, found a mapping", "must be at most 5, found 9", and
the YAML traps (``010`` read as the number 8, ``on`` read as a boolean) with the fix. Each
schema brings its own codes (:class:`SchemaCodes`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ivr.flowlang.diagnostics import Problem, expected_one_of
from ivr.flowlang.positions import Path, Source


@dataclass(frozen=True)
class SchemaCodes:
    """The problem codes (and pattern wording) of one schema's readers.

    Args:
        wrong_type: A value of the wrong type (a list where a mapping goes, ...).
        missing_key: A required key is missing.
        unknown_key: A key the schema does not know (with "did you mean").
        bad_value: A value of the right type that is not allowed (range, pattern, enum...).
        yaml_traps: Text that YAML read as a number or boolean gets its own codes (IVR003,
            IVR004); when False it is a ``wrong_type`` problem whose hint has the same fix.
        patterns: Regex of a ``pattern`` → (what the value is not, the fix).
        name_hint: The fix for a mapping key that its ``propertyNames`` refuses.
    """

    wrong_type: str
    missing_key: str
    unknown_key: str
    bad_value: str
    yaml_traps: bool = True
    patterns: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    name_hint: str = ""


def schema_problems(src: Source, validator: Draft202012Validator,
                    codes: SchemaCodes) -> list[Problem]:
    """The problems of ``src.data`` against ``validator``'s schema, one per leaf error,
    in path order and without repeats."""
    out: list[Problem] = []
    for err in sorted(validator.iter_errors(src.data), key=lambda e: list(map(str, e.path))):
        out.extend(_leaf_problems(src, err, codes))
    return _dedupe(out)


def _leaf_problems(src: Source, err: ValidationError, codes: SchemaCodes) -> list[Problem]:
    if err.context:
        return [p for sub in err.context for p in _leaf_problems(src, sub, codes)]
    return [_problem(src, err, codes)]


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, int, int, str]] = set()
    out = []
    for p in problems:
        key = (p.code, p.line, p.col, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _problem(src: Source, err: ValidationError, codes: SchemaCodes) -> Problem:
    path: Path = tuple(err.absolute_path)
    kind = err.validator
    if kind == "additionalProperties":
        return _unknown_key(src, err, path, codes)
    if kind == "required":
        missing = err.message.split("'")[1]
        return src.problem(codes.missing_key, f"missing required key '{missing}'", path,
                           f"add '{missing}:' here", key=True)
    if kind in ("type", "const"):
        return _wrong_type(src, err, path, codes)
    if kind == "propertyNames" or "propertyNames" in err.schema_path:
        name = str(err.instance)
        return src.problem(codes.bad_value, f"{_where(path)}name '{name}' is not allowed",
                           path + (name,), codes.name_hint, key=True)
    if kind == "enum":
        allowed = [str(v) for v in err.validator_value]
        return src.problem(codes.bad_value, f"'{err.instance}' is not allowed here", path,
                           expected_one_of(str(err.instance), allowed))
    if kind == "pattern":
        what, hint = codes.patterns.get(str(err.validator_value),
                                        ("has the wrong form", _describe(err)))
        return src.problem(codes.bad_value, f"{_where(path)}'{err.instance}' {what}", path,
                           hint)
    return _bad_value(src, err, path, codes)


def _where(path: Path) -> str:
    named = [p for p in path if isinstance(p, str)]
    return f"{named[-1]}: " if named else ""


def _bad_value(src: Source, err: ValidationError, path: Path, codes: SchemaCodes) -> Problem:
    """minimum/maximum/minLength/minItems/uniqueItems/...: say the limit plainly."""
    limit = err.validator_value
    messages = {
        "minimum": f"must be at least {limit}, found {err.instance}",
        "maximum": f"must be at most {limit}, found {err.instance}",
        "minLength": "must not be empty",
        "minItems": "must list at least one item",
        "minProperties": "must not be empty",
        "uniqueItems": "lists the same item twice",
    }
    message = messages.get(str(err.validator), f"has an invalid value: {err.message}")
    hint = _describe(err)
    schema = err.schema if isinstance(err.schema, dict) else {}
    if "minimum" in schema and "maximum" in schema:
        hint = f"use a number from {schema['minimum']} to {schema['maximum']}"
    elif err.validator == "uniqueItems":
        hint = "remove the repeated item"
    return src.problem(codes.bad_value, f"{_where(path)}{message}".strip(), path,
                       hint or "remove it, or write a value")


def _describe(err: ValidationError) -> str:
    desc = err.schema.get("description") if isinstance(err.schema, dict) else None
    return f"expected: {desc}" if desc else ""


def _unknown_key(src: Source, err: ValidationError, path: Path, codes: SchemaCodes
                 ) -> Problem:
    allowed = sorted(err.schema.get("properties", {}))
    name = str(next((k for k in err.instance if k not in allowed), "?"))
    return src.problem(codes.unknown_key, f"unknown key '{name}'", path + (name,),
                       expected_one_of(name, allowed), key=True)


_TYPE_HINTS = {
    "object": "write a mapping: indented 'name: value' lines under this key",
    "array": "write a list: [a, b] or one '- item' per line",
    "string": "write text (quote it if it contains ': ' or starts with a symbol)",
    "integer": "write a whole number such as 2",
    "number": "write a number such as 0.6",
    "boolean": "write true or false",
}
_WANTED = {"string": "text", "object": "a mapping", "array": "a list",
           "integer": "a whole number", "number": "a number", "boolean": "true/false"}
_FOUND = {"str": "text", "int": "a number", "float": "a number", "bool": "true/false",
          "dict": "a mapping", "list": "a list", "NoneType": "nothing"}


def _wrong_type(src: Source, err: ValidationError, path: Path, codes: SchemaCodes) -> Problem:
    """A value of the wrong type (or not the one constant allowed), with the fix; text that
    YAML read as a number or a boolean says so."""
    at = src.pos(path)
    found = type(err.instance).__name__
    got = _FOUND.get(found, found)
    if err.validator == "const":
        want = json.dumps(err.validator_value)
        got = json.dumps(err.instance) if isinstance(err.instance, bool) else got
        return src.problem(codes.wrong_type, f"expected {want}, found {got}", path,
                           f"leave it out instead of setting it to {got}")
    want = str(err.validator_value)
    message = f"expected {_WANTED.get(want, want)}, found {got}"
    trap = _yaml_trap(at.tag, at.text, err.instance) if want == "string" else None
    if trap is None:
        return src.problem(codes.wrong_type, message, path,
                           _describe(err) or _TYPE_HINTS.get(want, ""))
    code, trap_message, reads = trap
    if codes.yaml_traps:  # the message already says how YAML read it
        fix = f"quote it: '{at.text}'" + ("" if at.tag == "bool" else reads)
        return src.problem(code, trap_message, path, fix)
    return src.problem(codes.wrong_type, message, path, f"quote it: '{at.text}'{reads}")


def _yaml_trap(tag: str, text: str, value: object) -> tuple[str, str, str] | None:
    """(code, message, how YAML read it) for text that YAML read as a boolean or number."""
    if tag == "bool":
        return ("IVR004", f"'{text}' is read by YAML as a boolean, not as text",
                f" (YAML reads {text} as a boolean)")
    if tag in ("int", "float"):
        return ("IVR003", f"{text} is read by YAML as a number, not as text",
                f" (YAML reads {text} as {value})" if text != str(value) else "")
    return None
