"""The one transcript writer: plain data → transcript YAML (``ivr simulate --record``, the
console's "save as QA transcript" and ``ivr export`` all write through :func:`dump`).

PyYAML's ``safe_dump`` does the writing (quoting and escaping are its job, never ours),
with the transcript's house style on top: steps indented under ``steps:``, each
``expect`` on one line (``- expect: {state: main_menu}``), and strings double-quoted
unless they are plain names (``card-services``, ``main_menu``), so key presses, times and
words read back as the text they were::

    flow: card-services
    name: "simulated call to card-services"
    steps:
      - expect: {state: main_menu}
      - press: "2"
    outcome: human
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_YAML11_WORDS = frozenset("y n yes no on off true false null".split())
_LINE_BREAKS = re.compile("[\r\n\x85\u2028\u2029]+")
_STEP_START = "  - "
HEAD = -1
"""The ``comments`` key of lines written above ``flow:``."""


class _OneLine(dict[str, Any]):
    """A mapping written in flow style, on one line."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # "steps:\n  - ..." rather than "steps:\n- ..."


_CDumper: Any = getattr(yaml, "CSafeDumper", None)
"""libyaml's emitter (about four times faster), when PyYAML was built with it."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    plain = _PLAIN.fullmatch(value) is not None and value.lower() not in _YAML11_WORDS
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


def _one_line(dumper: yaml.SafeDumper, value: _OneLine) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


for _d in (_Dumper, _CDumper) if _CDumper is not None else (_Dumper,):
    _d.add_representer(str, _str)
    _d.add_representer(_OneLine, _one_line)


def _indent_steps(text: str) -> str:
    """libyaml writes a list under a key without indenting it (``steps:\n- ...``): indent
    the ``steps`` block by two spaces, as :class:`_Dumper` writes it. Strings never span
    lines here (width is unlimited, line breaks are escaped in double quotes), so the
    block is every line after ``steps:`` up to the next top-level key."""
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        if inside and not line.startswith(("- ", "  ")):
            inside = False
        out.append("  " + line if inside else line)
        inside = inside or line == "steps:\n"
    return "".join(out)


def dump(transcript: Mapping[str, Any],
         comments: Mapping[int, Sequence[str]] | None = None) -> str:
    """Transcript YAML for ``transcript`` (``flow``, ``name``, ``steps``, ... as plain data).

    Keys keep their order; each step's ``expect`` goes on one line. ``comments`` maps a
    step's index to ``# ...`` lines written above it (:data:`HEAD`: above ``flow:``; the
    number of steps: after the last step); each comment is kept on its one line.
    """
    data = dict(transcript)
    data["steps"] = [{k: _OneLine(v) if k == "expect" else v for k, v in step.items()}
                     for step in data.get("steps", [])]
    text = _emit(data, fast=_CDumper is not None)
    return _commented(text, comments, len(data["steps"])) if comments else text


def _emit(data: Mapping[str, Any], fast: bool) -> str:
    """The YAML text of ``data`` with libyaml (``fast``) or the pure-Python emitter; both
    write the same text (tests/qa/test_writer.py)."""
    text: str = yaml.dump(data, Dumper=_CDumper if fast else _Dumper, sort_keys=False,
                          allow_unicode=True, width=1 << 16, default_flow_style=False)
    return _indent_steps(text) if fast else text


def _comment(line: str, indent: str) -> str:
    return f"{indent}# {_LINE_BREAKS.sub(' ', line).strip()}".rstrip() + "\n"


def _commented(text: str, comments: Mapping[int, Sequence[str]], n_steps: int) -> str:
    """``text`` with the comment lines inserted. Steps are the lines that start with
    ``"  - "`` (the only top-level list; strings never span lines, see :func:`dump`) and
    a step's block goes on while lines are indented deeper."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith(_STEP_START)]
    end = starts[-1] + 1 if starts else len(lines)
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    at: dict[int, list[str]] = {0: [_comment(c, "") for c in comments.get(HEAD, ())]}
    for n, i in enumerate(starts):
        at.setdefault(i, []).extend(_comment(c, "  ") for c in comments.get(n, ()))
    at.setdefault(end, []).extend(_comment(c, "  ") for c in comments.get(n_steps, ()))
    out: list[str] = []
    for i, line in enumerate([*lines, ""]):
        out += at.get(i, [])
        out.append(line)
    return "".join(out)
