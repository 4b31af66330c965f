"""What every importer produces: a recorded call as turns, each by a role.

A reader (one module per format) turns a file into :class:`Turn` s whose ``speaker`` is
the label as written (``Caller``, ``IVR``, ``AGENT``, ``Customer``...); :class:`Speakers`
maps labels to roles, with the reader's defaults under the user's ``--speaker LABEL=ROLE``
options. Anything wrong with the input is a :class:`BadInput` naming the file and the
line (or the JSON path), never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ROLES = ("caller", "keys", "system", "agent", "ignore")
"""caller: the caller speaking; keys: the caller's key presses (a DTMF log); system: the
old IVR; agent: a person (the call was taken over from here); ignore: dropped."""

DEFAULT_SPEAKERS: Mapping[str, str] = {
    "caller": "caller", "customer": "caller", "client": "caller", "patient": "caller",
    "dtmf": "keys", "keypad": "keys",
    "ivr": "system", "system": "system", "bot": "system", "menu": "system",
    "agent": "agent", "operator": "agent", "representative": "agent", "rep": "agent",
}
"""Labels every format knows (case and spacing do not matter)."""

_DTMF = re.compile(r"^\s*[\[(<]?\s*(?:dtmf|pressed|press|keys?|digits?)\s*[:=]?\s*"
                   r"([0-9*#][0-9*#\s,.-]*)\s*[\])>]?\s*$", re.IGNORECASE)


class BadInput(ValueError):
    """An input that cannot be imported: where it is and what to do.

    Args:
        file: The input file.
        where: ``line 12``, a JSON path such as ``$.Transcript[3].Content``, or "".
        message: What is wrong.
        hint: How to fix it ("" when there is nothing to add).
    """

    def __init__(self, file: str, where: str, message: str, hint: str = "") -> None:
        self.file, self.where, self.message, self.hint = file, where, message, hint
        super().__init__(self.render())

    def render(self) -> str:
        at = f"{self.file}:{self.where.removeprefix('line ')}" if self.where.startswith(
            "line ") else f"{self.file}: {self.where}" if self.where else self.file
        return f"{at}: {self.message}" + (f"\n  = {self.hint}" if self.hint else "")


@dataclass(frozen=True)
class Turn:
    """One thing said (or keyed) on the recorded call.

    Args:
        speaker: The label as the source writes it.
        text: What was said ("" for key presses only).
        where: ``line N`` or a JSON path, for errors.
        at: Seconds from the start of the recording, when the source says.
        confidence: Speech recognition confidence (0..1), when the source says.
        role: Filled by :meth:`Speakers.assign`.
    """

    speaker: str
    text: str
    where: str
    at: float | None = None
    confidence: float | None = None
    role: str = ""

    def keys(self) -> str:
        """The keys of a DTMF log line (``[DTMF 1]``, ``pressed 1 2``; ``keys`` role: the
        whole text), or ""."""
        m = _DTMF.match(self.text)
        raw = m.group(1) if m else self.text if self.role == "keys" else ""
        return re.sub(r"[^0-9*#]", "", raw)


@dataclass
class Call:
    """A recorded call, read: its turns (with roles) and what the source says about it."""

    file: str
    format: str
    turns: list[Turn]
    started: str = ""
    """ISO time the call started, when the source says."""
    caller: str = ""
    """The caller's number (E.164), when the source says."""


def norm_label(label: str) -> str:
    return " ".join(label.replace("_", " ").split()).lower()


@dataclass
class Speakers:
    """Label → role: the reader's defaults, then the user's ``--speaker`` options."""

    given: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, options: Iterable[str]) -> Speakers:
        """``["Rep=agent", "Bot=system"]`` → Speakers; ValueError names a bad option."""
        out: dict[str, str] = {}
        for opt in options:
            label, sep, role = opt.rpartition("=")
            role = role.strip().lower()
            if not sep or not label.strip() or role not in ROLES:
                raise ValueError(f"'{opt}' is not LABEL=ROLE with ROLE one of "
                                 f"{', '.join(ROLES)} (e.g. --speaker 'Rep=agent')")
            out[norm_label(label)] = role
        return cls(out)

    def assign(self, call: Call, defaults: Mapping[str, str] = DEFAULT_SPEAKERS) -> Call:
        """Every turn with its role; BadInput lists the unknown labels and the option."""
        table = {**DEFAULT_SPEAKERS, **defaults, **self.given}
        roles: dict[str, str | None] = {}  # the label as written → its role
        unknown: dict[str, str] = {}
        turns = []
        for t in call.turns:
            if t.speaker not in roles:
                roles[t.speaker] = table.get(norm_label(t.speaker))
            role = roles[t.speaker]
            if role is None:
                unknown.setdefault(t.speaker, t.where)
            elif role != "ignore":
                turns.append(Turn(t.speaker, t.text, t.where, t.at, t.confidence, role))
        if unknown:
            listed = ", ".join(f"'{k}' ({v})" for k, v in unknown.items())
            first = next(iter(unknown))
            raise BadInput(call.file, "", f"unknown speaker(s): {listed}",
                           f"map each with --speaker LABEL=ROLE, e.g. --speaker "
                           f"'{first}=caller' (roles: {', '.join(ROLES)})")
        call.turns = turns
        return call


def parse_json(text: str, file: str) -> object:
    """JSON text → data; BadInput at the line and column of a syntax error."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(file, f"line {exc.lineno}", f"not valid JSON: {exc.msg} "
                       f"(column {exc.colno})") from None


def field_of(item: Mapping[str, object], path: str, file: str, *names: str,
             kind: type | tuple[type, ...] = str, required: bool = True) -> object:
    """``item[name]`` for the first of ``names`` present (snake_case, camelCase...),
    checked against ``kind``; BadInput at ``path.name`` when missing or mistyped."""
    for name in names:
        if name in item and item[name] is not None:
            value = item[name]
            if not isinstance(value, kind) or isinstance(value, bool):
                want = kind.__name__ if isinstance(kind, type) else " or ".join(
                    k.__name__ for k in kind)
                raise BadInput(file, f"{path}.{name}", f"expected {want}, got "
                               f"{type(value).__name__} {value!r:.40}")
            return value
    if required:
        raise BadInput(file, path, f"missing '{names[0]}'")
    return None
