"""Read YAML into plain data plus a position index, catching YAML's traps on the way.

PyYAML's composer gives every node a start and end mark. We build the Python values
ourselves from those nodes so that each value's position is known by its path, and so
that the traps ops staff fall into are reported with an explanation instead of silently
changing meaning: duplicate keys, unquoted DTMF keys (``010`` is the number 8), YAML 1.1
booleans (``on``, ``no``, ``yes``), tabs, and alias bombs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from ivr.flowlang.diagnostics import Problem
from ivr.flowlang.positions import Path, Pos, Source, dotted

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
MAX_ALIASED = 20_000
"""Values produced by repeating aliases: real flows repeat a few, bombs millions."""
MAX_DEPTH = 64
_BOOL_WORDS = {"yes", "no", "on", "off", "y", "n"}

_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _pos(node: yaml.Node) -> Pos:
    start, end = node.start_mark, node.end_mark
    end_col = end.column + 1 if end.line == start.line else start.column + 2
    text = node.value if isinstance(node, yaml.ScalarNode) else ""
    return Pos(start.line + 1, start.column + 1, end_col, node.tag.rsplit(":", 1)[-1], text)


class _Builder:
    """Turns composed nodes into Python values, recording positions and problems."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.count = 0
        self.aliased = 0
        self.built: set[int] = set()

    def build(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        self.count += 1
        if id(node) in self.built:  # an alias (or a value inside one) built again
            self.aliased += 1
        else:
            self.built.add(id(node))
        if self.count > MAX_NODES or self.aliased > MAX_ALIASED or depth > MAX_DEPTH:
            raise _TooBig(node, depth > MAX_DEPTH, path)
        self.src.positions[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(n, path + (i,), depth + 1) for i, n in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, path)

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        value = yaml.SafeLoader.construct_scalar(_LOADER, node)
        tag = node.tag.rsplit(":", 1)[-1]
        if tag == "null":
            return None
        if tag == "bool":
            # yes/no/on/off: reported by the structure check where text is expected.
            return node.value.lower() in ("yes", "on", "y", "true")
        if tag == "int":
            return _LOADER.construct_yaml_int(node)
        if tag == "float":
            number = _LOADER.construct_yaml_float(node)
            if number != number or number in (float("inf"), float("-inf")):
                at = _pos(node)
                self.src.problems.append(Problem(
                    "IVR104", f"'{node.value}' is not a usable number", self.src.file,
                    at.line, at.col, dotted(path), "write a plain number such as 0.6",
                    at.end_col))
            return number
        if tag in ("timestamp", "binary"):
            return str(value)
        return str(value)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        _LOADER.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            kp = path + (key,)
            if key in out:
                first = self.src.key_positions[kp]
                self.src.problems.append(Problem(
                    "IVR002", f"duplicate key '{key}' (first defined on line {first.line})",
                    self.src.file, _pos(key_node).line, _pos(key_node).col, dotted(kp),
                    "YAML keeps only the last one: remove or rename one of them",
                    _pos(key_node).end_col))
                continue
            self.src.key_positions[kp] = _pos(key_node)
            out[key] = self.build(value_node, kp, depth + 1)
        return out

    def _key(self, key_node: yaml.Node, path: Path) -> str | None:
        at = _pos(key_node)
        if not isinstance(key_node, yaml.ScalarNode):
            self.src.problems.append(Problem(
                "IVR003", "a key must be plain text, not a list or mapping", self.src.file,
                at.line, at.col, dotted(path), "", at.end_col))
            return None
        tag = key_node.tag.rsplit(":", 1)[-1]
        text = key_node.value
        if tag == "int" or tag == "float":
            value = _LOADER.construct_object(key_node)
            read = f"the number {value}" + (" (octal!)" if text != str(value) else "")
            self.src.problems.append(Problem(
                "IVR003", f"key {text} is read by YAML as {read}, not as text", self.src.file,
                at.line, at.col, dotted(path + (text,)),
                f"quote it: '{text}': DTMF keys and names must be strings", at.end_col))
        elif tag == "bool":
            self.src.problems.append(Problem(
                "IVR004", f"key '{text}' is read by YAML as a boolean, not as text",
                self.src.file, at.line, at.col, dotted(path + (text,)),
                f"quote it: '{text}'", at.end_col))
        return str(text)


class _TooBig(Exception):
    def __init__(self, node: yaml.Node, deep: bool, path: Path) -> None:
        self.node = node
        self.deep = deep
        self.path = path


_LOADER = yaml.SafeLoader("")


def load(text: str | bytes, file: str = "<string>") -> Source:
    """Parse ``text`` into a :class:`Source`. Never raises on bad input."""
    if isinstance(text, bytes):
        decoded = _decode(text, file)
        if isinstance(decoded, Problem):
            return Source(file, "", problems=[decoded])
        text = decoded
    src = Source(file, text)
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        src.problems.append(Problem("IVR007", f"file is larger than {MAX_BYTES // 1024} KiB",
                                    file, 0, 0, "", "a call flow should be a few KiB"))
        return src
    src.problems.extend(_tabs(text, file))
    if src.problems:
        return src
    try:
        with gc_paused():
            node = _compose(text)
    except (yaml.YAMLError, RecursionError) as exc:
        src.problems.append(_parse_problem(exc, text, file))
        return src
    if node is None:
        src.problems.append(Problem("IVR006", "file is empty", file, 1, 1, "",
                                    "start with 'flow: <name>' (see flows/ for examples)", 2))
        return src
    try:
        with gc_paused():
            src.data = _Builder(src).build(node, ())
    except _TooBig as big:
        src.problems.append(_too_big(src, big))
    return src


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data.

    Loading a flow allocates one position record per value and frees almost nothing, which
    makes CPython run full collections over an ever larger heap: measured, a 5000-state
    flow loaded 10x slower than a 1000-state one instead of 5x. Nothing built here forms
    reference cycles (an alias that contains itself is refused as too deep), so pausing is
    safe; the collector is restored to its previous setting afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_problem(exc: Exception, text: str, file: str) -> Problem:
    """The problem for an error raised while composing ``text``."""
    if isinstance(exc, yaml.MarkedYAMLError):
        return _syntax_problem(exc, file)
    if isinstance(exc, yaml.reader.ReaderError):
        return _reader_problem(exc, text, file)
    if isinstance(exc, RecursionError):
        return _too_deep(text, file)
    return Problem("IVR001", f"cannot parse YAML: {exc}", file, 1, 1, "",
                   "check the file is a YAML mapping of settings", 2)


def _compose(text: str) -> yaml.Node | None:
    """Compose with libyaml when the document is safe for it, else with pure PyYAML.

    libyaml is about five times faster and gives the same marks, but its composer recurses
    in C (a deep enough document crashes the process) and its error messages differ. So a
    cheap event scan proves the depth first, and any error is re-read by the pure-Python
    loader, whose messages and positions the problems are written for.
    """
    if _FAST_LOADER is not None and _shallow(text):
        try:
            node: yaml.Node | None = yaml.compose(text, Loader=_FAST_LOADER)
            return node
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _shallow(text: str) -> bool:
    """True when libyaml parses ``text`` without error and nests at most MAX_DEPTH deep."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return False
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return False
    return True


def _too_big(src: Source, big: _TooBig) -> Problem:
    """IVR008 where it happens: the deep value, or the top-level key an alias bomb is under."""
    if big.deep:
        at = _pos(big.node)
        return Problem("IVR008", f"document is nested more than {MAX_DEPTH} levels deep",
                       src.file, at.line, at.col, dotted(big.path[:4]),
                       "flatten the structure: a flow needs only a few levels", at.end_col)
    top = big.path[:1]
    at = src.key_positions.get(top) or _pos(big.node)
    return Problem("IVR008", "document expands to too many values "
                   "(aliases of aliases: an alias bomb?)", src.file, at.line, at.col,
                   dotted(top), "write the values out; do not build aliases from aliases",
                   at.end_col)


def _too_deep(text: str, file: str) -> Problem:
    """IVR008 for nesting so deep the composer recursed too far: find it with the parser."""
    depth = 0
    mark = None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    break
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Problem("IVR008", f"document is nested more than {MAX_DEPTH} levels deep", file,
                   line, col, "", "flatten the structure: a flow needs only a few levels",
                   col + 1)


def _reader_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """A character YAML refuses (control characters): point at it, say which it is."""
    before = text[: exc.position]
    line = before.count("\n") + 1
    col = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return Problem("IVR001", f"character U+{ord(char):04X} is not allowed in YAML", file,
                   line, col, "", "remove it (it is invisible: a control character)", col + 1)


def _decode(raw: bytes, file: str) -> str | Problem:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Problem("IVR007", "file is UTF-16, not UTF-8", file, 1, 1, "",
                       "save the file as UTF-8", 2)
    if b"\x00" in raw[:8192]:
        return Problem("IVR007", "file is binary, not YAML text", file, 0, 0, "",
                       "a flow file is UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return Problem("IVR007", f"file is not UTF-8 (byte 0x{raw[exc.start]:02x})", file,
                       line, col, "", "save the file as UTF-8", col + 1)


def _tabs(text: str, file: str) -> list[Problem]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            col = len(line) - len(stripped) + 1
            out.append(Problem("IVR005", "tab used for indentation", file, n, col, "",
                               "YAML indentation must use spaces: replace the tab with spaces",
                               col + 1))
    return out


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    what = exc.problem or "invalid YAML"
    hint = ""
    if exc.context:
        hint = f"{exc.context}"
        if exc.context_mark and exc.context_mark is not mark:
            hint += f" (line {exc.context_mark.line + 1})"
    if "mapping values are not allowed" in what:
        hint = "a value containing ': ' must be quoted, or a key is indented wrongly"
    elif "found character '\\t'" in what:
        hint = "replace the tab with spaces"
    return Problem("IVR001", f"YAML syntax error: {what}", file, line, col, "", hint, col + 1)


def load_file(path: str) -> Source:
    """Read and parse a file; unreadable files become problems, not exceptions."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return Source(path, "", problems=[Problem("IVR007", f"cannot read file: "
                                                  f"{exc.strerror or exc}", path)])
    if len(raw) > MAX_BYTES:
        return Source(path, "", problems=[Problem(
            "IVR007", f"file is larger than {MAX_BYTES // 1024} KiB", path, 0, 0, "",
            "a call flow should be a few KiB")])
    return load(raw, path)
