"""Problems found in flow files, and the formatters that show them to people.

A :class:`Problem` is one finding: a stable code, a severity, a message, a position in a
file, the YAML path to the offending value and a hint that contains the fix. Checks never
raise on bad input; they return problems. :class:`FlowError` carries a list of them when a
caller needs an exception (loading a flow for a live call, publishing a new version).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a problem is: errors block a flow, warnings block it only with --strict."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding about a flow file.

    Args:
        code: Stable identifier, e.g. ``IVR201``. Families: 0xx YAML, 1xx structure,
            2xx references, 3xx graph, 4xx telephony. Warnings use ``W`` instead of ``IVR``.
        message: What is wrong, in one sentence.
        file: Path of the file as given by the user.
        line: 1-based line, 0 when the problem concerns the whole file.
        col: 1-based column.
        path: YAML path to the value, e.g. ``states.main_menu.intents.other``.
        hint: The fix, or what was expected (may be empty).
        end_col: Column just past the offending text on ``line`` (for the caret).
    """

    code: str
    message: str
    file: str = ""
    line: int = 0
    col: int = 0
    path: str = ""
    hint: str = ""
    end_col: int = 0

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.code.startswith("W") else Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.col, self.code)


class FlowError(Exception):
    """Raised when a flow cannot be used; ``problems`` says why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else None
        summary = format_parsable(first) if first else "invalid flow"
        more = len(self.problems) - 1
        super().__init__(summary + (f" (+{more} more)" if more > 0 else ""))


def errors_in(problems: Iterable[Problem], strict: bool = False) -> list[Problem]:
    """The problems that make a flow unusable (warnings too when ``strict``)."""
    return [p for p in problems if strict or p.severity is Severity.ERROR]


def expected_one_of(name: str, allowed: Sequence[str], most: int = 0) -> str:
    """The hint for a name that is not allowed: the choices (the first ``most``, when
    given) and the nearest one, e.g. ``expected one of: 'a', 'b'  (did you mean 'b'?)``."""
    shown = allowed[:most] if most else allowed
    hint = "expected one of: " + ", ".join(repr(a) for a in shown)
    if len(allowed) > len(shown):
        hint += f" (and {len(allowed) - len(shown)} more)"
    close = difflib.get_close_matches(name, allowed, n=1)
    return hint + (f"  (did you mean '{close[0]}'?)" if close else "")


def _location(p: Problem) -> str:
    if p.line:
        return f"{p.file}:{p.line}:{p.col}"
    return p.file or "<flow>"


def format_parsable(p: Problem) -> str:
    """``file:line:col: severity[CODE] message`` on one line (for editors and grep)."""
    return f"{_location(p)}: {p.severity.value}[{p.code}] {p.message}"


def format_github(p: Problem) -> str:
    """A GitHub Actions workflow command that annotates the line in a pull request."""
    level = "warning" if p.severity is Severity.WARNING else "error"
    text = p.message + (f" ({p.hint})" if p.hint else "")
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{level} file={p.file},line={p.line or 1},col={p.col or 1},title={p.code}::{text}"


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def format_standard(p: Problem, source_lines: Sequence[str] | None, color: bool = False) -> str:
    """The compiler-style block: location, the source line, a caret under the value, the fix."""
    sev = _paint(p.severity.value, "1;31" if p.severity is Severity.ERROR else "1;33", color)
    head = f"{_location(p)}: {sev}[{p.code}] {p.message}"
    lines = [_paint(head, "1", False) if not color else head]
    if source_lines and 0 < p.line <= len(source_lines):
        text = source_lines[p.line - 1].rstrip("\n")
        width = len(str(p.line))
        span = max(1, (p.end_col or p.col + 1) - p.col)
        caret = "^" + "~" * (span - 1)
        lines.append(f"{' ' * width} |")
        lines.append(f"{p.line} | {text}")
        lines.append(f"{' ' * width} | {' ' * max(0, p.col - 1)}{_paint(caret, '1;32', color)}")
        if p.hint:
            lines.append(f"{' ' * width} = {p.hint}")
    elif p.hint:
        lines.append(f"  = {p.hint}")
    return "\n".join(lines)


def to_json(problems: Sequence[Problem]) -> str:
    """All problems as a JSON array of objects (severity included)."""
    rows: list[dict[str, Any]] = []
    for p in problems:
        row = asdict(p)
        row["severity"] = p.severity.value
        rows.append(row)
    return json.dumps(rows, indent=2)
