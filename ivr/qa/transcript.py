"""QA transcripts: a scripted call (caller steps and expectations) for one flow.

A transcript is YAML a person writes by hand or exports with ``ivr simulate --record``::

    flow: card-services
    name: finder of someone else's card reaches a human
    clock: "2026-11-20T14:05:00-05:00"     # optional: fixes business hours
    steps:
      - expect: {state: main_menu, says: "lost or stolen"}
      - say: "I found somebody's credit card on the sidewalk"
      - expect: {state: other}
    outcome: other

It is loaded with the same position-keeping reader as flows (:mod:`ivr.flowlang.source`) and its
problems are reported the same way, with ``IVR5xx`` codes (YAML problems keep their
``IVR0xx`` codes): 501 wrong type, 502 unknown key, 503 missing key, 504 bad value,
505 unknown flow, 506 a step that does not say what happens, 507 steps after the hang-up,
508 unknown state in an ``expect``, 509 a clock that is not an ISO time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from jsonschema import Draft202012Validator

from ivr.flowlang.diagnostics import Problem, expected_one_of
from ivr.flowlang.machine import BUILT_IN
from ivr.flowlang.positions import Source
from ivr.flowlang.schema_errors import SchemaCodes, schema_problems
from ivr.flowlang.source import load, load_file
from ivr.qa.transcript_schema import (
    CALLER_KEYS,
    DEFAULT_CALLER,
    RECORDING_SECONDS,
    TRANSCRIPT_SCHEMA,
)

_VALIDATOR = Draft202012Validator(TRANSCRIPT_SCHEMA)
_CODES = SchemaCodes(wrong_type="IVR501", missing_key="IVR503", unknown_key="IVR502",
                     bad_value="IVR504", yaml_traps=False)


@dataclass(frozen=True)
class Expect:
    """What must hold after a step; empty fields are not checked."""

    state: str = ""
    says: str = ""
    action: str = ""

    def describe(self) -> str:
        parts = [f"{k}: {v!r}" for k, v in (("state", self.state), ("says", self.says),
                                             ("action", self.action)) if v]
        return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True)
class Step:
    """One step: a caller action (``kind`` empty when the step only expects) and/or an expect.

    Args:
        number: 1-based position in ``steps``.
        line: Line of the step in the file.
        kind: One of :data:`CALLER_KEYS` (``dial`` is read as ``dial_result``, ``record``
            as ``recording``), or "" for an expect-only step.
        value: Keys pressed, words said or the dial result.
        confidence: Speech confidence for ``say``.
        expect: What to check after the action.
        seconds: ``recording``: seconds of message (0: none); ``wait``: seconds waited.
        position: ``wait``: the caller's place in the queue (0: unknown).
        meant: What the caller meant by a ``say`` at a menu (an intent's name, ``other``
            or ``human``): ``ivr replay --coverage`` reports per-intent accuracy from it.
    """

    number: int
    line: int
    kind: str = ""
    value: str = ""
    confidence: float | None = None
    expect: Expect | None = None
    seconds: int = 0
    position: int = 0
    meant: str = ""

    def describe(self) -> str:
        """The caller action as written, e.g. ``press "1"``."""
        if self.kind in ("press", "say", "dial_result", "leg"):
            conf = f" (confidence {self.confidence})" if self.confidence is not None else ""
            return f'{self.kind} "{self.value}"{conf}'
        if self.kind == "recording":
            return f"record {self.seconds} s" if self.seconds else "record none"
        if self.kind == "wait":
            return f"wait (position {self.position}, {self.seconds} s)"
        return self.kind or "expect"


@dataclass(frozen=True)
class Transcript:
    """A loaded, structurally valid transcript."""

    file: str
    flow: str
    name: str
    steps: tuple[Step, ...]
    clock: datetime | None = None
    outcome: str = ""
    version: str = ""
    caller: str = DEFAULT_CALLER
    """The number the call comes from ('' when withheld: ``caller: anonymous``)."""
    answered_by: str = ""
    """``callback: {answered_by: ...}``: the call is a callback we placed, and Twilio's
    answering-machine detection says who answered (human, machine_end_beep, fax...)."""
    attempt: int = 0
    """``callback: {attempt: N}``: which try of that callback (1 when not given)."""


@dataclass
class Loaded:
    """The result of loading one transcript file: source, problems and (if valid) transcript."""

    source: Source
    problems: list[Problem] = field(default_factory=list)
    transcript: Transcript | None = None


def transcript_schema() -> dict[str, Any]:
    """The JSON Schema of transcripts (``ivr schema --transcript``)."""
    return TRANSCRIPT_SCHEMA


def load_transcript(path: str, flows: Mapping[str, Any] | None = None) -> Loaded:
    """Read and check the transcript at ``path`` (see :func:`check_transcript`)."""
    return check_transcript(load_file(path), flows)


class _Duplicate(Exception):
    pass


class _QuickLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser; a duplicate key stops it (the full check then reports it)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [k.value for k, _ in node.value]
        if len(keys) != len(set(keys)):
            raise _Duplicate()
        return dict(super().construct_mapping(node, deep))


def quick_load(path: str, flows: Mapping[str, Any] | None = None) -> Loaded:
    """:func:`load_transcript` for thousands of files (``ivr replay --what-if``): libyaml
    and the schema, without positions (every step is at line 1). Anything the full check would
    report (a YAML trap, a duplicate key, a schema or meaning problem) takes the full
    check, so the problems are exactly :func:`load_transcript`'s."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        data = yaml.load(text, Loader=_QuickLoader)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError, yaml.YAMLError, _Duplicate, RecursionError):
        return load_transcript(path, flows)
    if not isinstance(data, dict) or not _VALIDATOR.is_valid(data):
        return load_transcript(path, flows)
    src = Source(path, text)
    src.data = data
    if _semantics(src, flows):
        return load_transcript(path, flows)
    return Loaded(src, [], _build(src, flows))


def parse_transcript(text: str, file: str = "<transcript>",
                     flows: Mapping[str, Any] | None = None) -> Loaded:
    """Check transcript text (see :func:`check_transcript`)."""
    return check_transcript(load(text, file), flows)


def check_transcript(src: Source, flows: Mapping[str, Any] | None = None) -> Loaded:
    """Check a loaded source phase by phase; each phase stops the next when it finds errors.

    Args:
        src: The loaded YAML.
        flows: Known flows: flow id → object with a ``states`` mapping (a
            :class:`ivr.flowlang.model.Flow`). ``None`` skips the flow and state checks.

    Returns:
        The problems, sorted, and the transcript when there are none.
    """
    out = Loaded(src, list(src.problems))
    if out.problems:
        return out
    out.problems = _structure(src)
    if not out.problems:
        out.problems = _semantics(src, flows)
    if not out.problems:
        out.transcript = _build(src, flows)
    out.problems.sort(key=Problem.sort_key)
    return out


# --- phase 2: structure -------------------------------------------------------------------

def _structure(src: Source) -> list[Problem]:
    if not isinstance(src.data, dict):
        return [src.problem("IVR501", "a transcript must be a mapping",
                            (), "start with 'flow: <flow id>' and 'steps:'")]
    return schema_problems(src, _VALIDATOR, _CODES)


def _expected(name: str, allowed: list[str]) -> str:
    return expected_one_of(name, allowed)


# --- phase 3: meaning -------------------------------------------------------------------

def _semantics(src: Source, flows: Mapping[str, Any] | None) -> list[Problem]:
    data: dict[str, Any] = src.data
    out = _check_steps(src, data["steps"])
    if "clock" in data and parse_clock(data["clock"], None) is None:
        out.append(src.problem("IVR509", f"'{data['clock']}' is not an ISO date and time",
                               ("clock",), "e.g. '2026-11-20T14:05:00-05:00'"))
    if flows is None:
        return out
    flow_id = data["flow"]
    if flow_id not in flows:
        out.append(src.problem("IVR505", f"unknown flow '{flow_id}'", ("flow",),
                               _expected(flow_id, sorted(flows))))
        return out
    known = [*flows[flow_id].states, *BUILT_IN]
    for i, step in enumerate(data["steps"]):
        state = (step.get("expect") or {}).get("state")
        if state and state not in known:
            out.append(src.problem("IVR508", f"flow '{flow_id}' has no state '{state}'",
                                   ("steps", i, "expect", "state"), _expected(state, known)))
    return out


def _check_steps(src: Source, steps: list[dict[str, Any]]) -> list[Problem]:
    out = []
    hung_up = 0
    for i, step in enumerate(steps):
        actions = [k for k in CALLER_KEYS if k in step]
        if hung_up and actions:
            out.append(src.problem(
                "IVR507", f"step {i + 1} comes after the caller hung up (step {hung_up})",
                ("steps", i), "remove it, or move the 'hangup: true' step to the end"))
        if len(actions) > 1:
            out.append(src.problem(
                "IVR506", f"step {i + 1} does {' and '.join(actions)} at once",
                ("steps", i, actions[1]), "give each caller action its own step", key=True))
        elif not actions and "expect" not in step:
            out.append(src.problem(
                "IVR506", f"step {i + 1} does nothing", ("steps", i),
                f"use one of: {', '.join(CALLER_KEYS)}, or 'expect:'"))
        if "confidence" in step and "say" not in step:
            out.append(src.problem("IVR506", "'confidence' only goes with 'say'",
                                   ("steps", i, "confidence"), key=True))
        if "hangup" in step and not hung_up:
            hung_up = i + 1
    return out


# --- phase 4: build -----------------------------------------------------------------------

def parse_clock(raw: str, flow: Any) -> datetime | None:
    """An ISO time; without a UTC offset it is read in ``flow``'s business-hours timezone.

    Returns None when ``raw`` is not an ISO date and time.
    """
    try:
        when = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        hours = getattr(flow, "hours", None)
        when = when.replace(tzinfo=ZoneInfo(hours.timezone) if hours else UTC)
    return when


def _caller_step(raw: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, value) of a step, with the aliases read as their kind."""
    kind = next((k for k in CALLER_KEYS if k in raw), "")
    value = str(raw[kind]) if kind in ("press", "say", "dial_result", "dial", "leg") else ""
    return {"dial": "dial_result", "record": "recording"}.get(kind, kind), value


def _numbers(raw: Mapping[str, Any]) -> dict[str, int]:
    """``seconds``/``position`` of a recording or wait step."""
    if "record" in raw:
        rec = raw["record"]
        return {"seconds": int(rec["seconds"]) if isinstance(rec, dict) else 0}
    if "recording" in raw:
        return {"seconds": RECORDING_SECONDS}
    if "wait" in raw:
        return {"seconds": int(raw["wait"].get("seconds", 0)),
                "position": int(raw["wait"].get("position", 0))}
    return {}


def _build(src: Source, flows: Mapping[str, Any] | None) -> Transcript:
    data: dict[str, Any] = src.data
    flow = (flows or {}).get(data["flow"])
    steps = []
    for i, raw in enumerate(data["steps"]):
        exp = raw.get("expect")
        conf = raw.get("confidence")
        numbers = _numbers(raw)
        steps.append(Step(i + 1, src.pos(("steps", i)).line, *_caller_step(raw),
                          confidence=float(conf) if conf is not None else None,
                          expect=Expect(**exp) if exp is not None else None,
                          seconds=numbers.get("seconds", 0),
                          position=numbers.get("position", 0),
                          meant=str(raw.get("meant", ""))))
    default_name = src.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    clock = parse_clock(data["clock"], flow) if "clock" in data else None
    caller = str(data.get("caller", DEFAULT_CALLER))
    callback = data.get("callback") or {}
    return Transcript(src.file, data["flow"], data.get("name", default_name), tuple(steps),
                      clock, data.get("outcome", ""), data.get("version", ""),
                      "" if caller == "anonymous" else caller,
                      str(callback.get("answered_by", "human")) if "callback" in data else "",
                      int(callback.get("attempt", 1)) if "callback" in data else 0)
