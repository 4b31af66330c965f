"""Where things are in a YAML file: a position per value path, and the loaded document.

:class:`Source` is what every phase of ``ivr validate`` reads: the data, the position of
each path (and of its key), and a :meth:`Source.problem` that turns a path into a located
:class:`~ivr.flowlang.diagnostics.Problem`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ivr.flowlang.diagnostics import Problem

Path = tuple[str | int, ...]
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


@dataclass(frozen=True)
class Pos:
    """Where a value sits: 1-based line and column, and the column just past it."""

    line: int
    col: int
    end_col: int
    tag: str = ""
    text: str = ""


@dataclass
class Source:
    """A loaded document: the data, where each path is, and the problems found reading it."""

    file: str
    text: str
    data: Any = None
    positions: dict[Path, Pos] = field(default_factory=dict)
    key_positions: dict[Path, Pos] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        """The text split where YAML breaks lines (not at form feeds: ``str.splitlines``)."""
        return _LINE_BREAK.split(self.text)

    def pos(self, path: Path, key: bool = False) -> Pos:
        """The position of ``path`` (or of its key), falling back to the nearest parent."""
        table = self.key_positions if key else self.positions
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), Pos(1, 1, 2))

    def problem(self, code: str, message: str, path: Path = (), hint: str = "",
                key: bool = False) -> Problem:
        """A problem located at ``path`` in this file."""
        at = self.pos(path, key=key)
        return Problem(code, message, self.file, at.line, at.col, dotted(path), hint, at.end_col)


def dotted(path: Path) -> str:
    """``('states', 'menu', 'intents', 'x', 'keys', 0)`` → ``states.menu.intents.x.keys[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier() or part.replace("-", "_").isidentifier():
            out += ("." if out else "") + part
        else:
            out += f'["{part}"]'
    return out
