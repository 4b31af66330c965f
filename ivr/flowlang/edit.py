"""Small edits of a flow's YAML text that keep everything else as written (comments,
quoting, line breaks): add phrases to a menu's intent, or add an intent before ``other``.

The console's "Draft this edit" (inbox groups) uses these. Each edit finds its place with
the positions :func:`ivr.flowlang.source.load` records and inserts text there; nothing is
re-serialised. Phrases are written as double-quoted YAML (JSON string syntax), so quotes,
colons and ``#`` in what callers said stay text. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ivr.flowlang.positions import Path, Source
from ivr.flowlang.source import load

WIDTH = 100
"""A flow list grown past this column continues on a new line."""


class EditError(ValueError):
    """The edit cannot be made on this text (the message says why, for a person)."""


def clean(phrase: str) -> str:
    """One line of printable text: runs of whitespace (line breaks, U+2028 too) become one
    space, control characters go."""
    return "".join(c for c in " ".join(str(phrase).split()) if c.isprintable())


def quoted(phrase: str) -> str:
    """``phrase`` (:func:`clean`) as a double-quoted YAML scalar: ``say "hi": now`` →
    ``"say \\"hi\\": now"``."""
    return json.dumps(clean(phrase), ensure_ascii=False)


def _source(text: str) -> Source:
    src = load(text)
    if src.data is None or not isinstance(src.data, dict):
        raise EditError("the flow's YAML does not load: fix it in the editor first")
    return src


def _intents(src: Source, state: str) -> dict[str, object]:
    states = src.data.get("states")
    st = states.get(state) if isinstance(states, dict) else None
    intents = st.get("intents") if isinstance(st, dict) else None
    if not isinstance(intents, dict):
        raise EditError(f"state '{state}' is not a menu (it has no intents)")
    return intents


def _offset(lines: list[str], line: int, col: int) -> int:
    """Character offset of 1-based (line, col) in the text split into ``lines``."""
    return sum(len(x) + 1 for x in lines[:line - 1]) + col - 1


def _closing(text: str, start: int) -> int:
    """Offset of the bracket closing the flow collection opened at ``start``."""
    depth, quote, n = 0, "", start
    while n < len(text):
        c = text[n]
        if quote:
            if c == "\\" and quote == '"':
                n += 1
            elif c == quote:
                quote = "" if not (quote == "'" and text[n + 1:n + 2] == "'") else quote
                n += 1 if quote else 0
        elif c in "\"'":
            quote = c
        elif c == "#" and text[n - 1] in " \t\n":
            n = text.find("\n", n) if "\n" in text[n:] else len(text)
            continue
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return n
        n += 1
    raise EditError("a flow list is not closed")


def _into_flow_list(text: str, src: Source, path: Path, phrases: Sequence[str]) -> str:
    lines = src.lines
    at = src.pos(path)
    start = _offset(lines, at.line, at.col)
    end = _closing(text, start)
    before = text[start + 1:end].rstrip()
    cut = start + 1 + len(before)
    items = [quoted(p) for p in phrases]
    column = cut - (text.rfind("\n", 0, cut) + 1)
    if column + sum(len(i) + 2 for i in items) + 1 <= WIDTH or not before:
        return text[:cut] + (", " if before else "") + ", ".join(items) + text[cut:]
    pad = " " * (src.pos(path + (0,)).col - 1)
    rows: list[str] = []
    for item in items:  # pack the new phrases into lines of at most WIDTH
        if rows and len(pad) + len(rows[-1]) + len(item) + 3 <= WIDTH:
            rows[-1] += ", " + item
        else:
            rows.append(item)
    return text[:cut] + "".join(",\n" + pad + r for r in rows) + text[cut:]


def _into_block_list(src: Source, path: Path, count: int, phrases: Sequence[str]) -> str:
    lines = src.lines
    dash = src.pos(path + (count - 1,))
    indent = dash.col - 3 if lines[dash.line - 1][:dash.col - 1].endswith("- ") else dash.col - 1
    n = dash.line  # lines after the last item that still belong to it (deeper indent)
    while n < len(lines) and lines[n].strip() and \
            len(lines[n]) - len(lines[n].lstrip(" ")) > indent and \
            not lines[n].lstrip().startswith("#"):
        n += 1
    added = [" " * indent + "- " + quoted(p) for p in phrases]
    return "\n".join(lines[:n] + added + lines[n:])


def add_phrases(text: str, state: str, intent: str, phrases: Sequence[str]) -> str:
    """``text`` with ``phrases`` appended to ``intent``'s ``phrases:`` in menu ``state``
    (a ``phrases:`` list is added when the intent has none). Phrases it has are skipped.

    Raises:
        EditError: The text does not load, ``state`` is not a menu, no such intent, or
            nothing left to add.
    """
    src = _source(text)
    intents = _intents(src, state)
    if not isinstance(intents.get(intent), dict):
        raise EditError(f"menu '{state}' has no intent '{intent}'")
    body = intents[intent]
    assert isinstance(body, dict)
    have = {str(p).lower() for p in body.get("phrases") or []}
    fresh = [p for p in dict.fromkeys(map(clean, phrases)) if p and p.lower() not in have]
    if not fresh:
        raise EditError(f"intent '{intent}' already has these phrases")
    path: Path = ("states", state, "intents", intent, "phrases")
    if "phrases" not in body:
        return _new_key(text, src, path[:-1], "phrases: [" + ", ".join(map(quoted, fresh)) + "]")
    lines = src.lines
    at = src.pos(path)
    if lines[at.line - 1][at.col - 1:at.col] == "[":
        return _into_flow_list(text, src, path, fresh)
    return _into_block_list(src, path, len(body["phrases"]), fresh)


def _new_key(text: str, src: Source, path: Path, entry: str) -> str:
    """Add ``entry`` ("key: value") as the first key of the mapping at ``path``."""
    lines = src.lines
    at = src.pos(path)
    if lines[at.line - 1][at.col - 1:at.col] == "{":
        cut = _offset(lines, at.line, at.col) + 1
        return text[:cut] + entry + ", " + text[cut:].lstrip(" ")
    first = min((p for k, p in src.key_positions.items() if k[:-1] == path),
                key=lambda p: (p.line, p.col))
    return "\n".join(lines[:first.line - 1] + [" " * (first.col - 1) + entry] +
                     lines[first.line - 1:])


def add_intent(text: str, state: str, name: str, phrases: Sequence[str],
               comment: str = "", goto: str = "human") -> str:
    """``text`` with a new intent ``name`` (``phrases``, ``goto``) in menu ``state``, just
    before its ``other`` intent (after the last when there is none), with a ``# comment``
    line above it when the menu's intents are written one per line.

    Raises:
        EditError: The text does not load, ``state`` is not a menu, or ``name`` is taken.
    """
    src = _source(text)
    intents = _intents(src, state)
    if name in intents:
        raise EditError(f"menu '{state}' already has an intent '{name}'")
    said = [p for p in dict.fromkeys(map(clean, phrases)) if p]
    if not said:
        raise EditError("no phrases to add")
    entry = f"{name}: {{phrases: [{', '.join(map(quoted, said))}], goto: {goto}}}"
    base: Path = ("states", state, "intents")
    lines = src.lines
    key = src.key_positions.get(base + ("other",)) or \
        src.key_positions[base + (list(intents)[-1],)]
    if lines[key.line - 1][:key.col - 1].strip():  # a flow mapping: {a: .., other: ..}
        cut = _offset(lines, key.line, key.col)
        return text[:cut] + entry + ", " + text[cut:]
    pad = " " * (key.col - 1)
    lines_of = [pad + entry] if len(pad + entry) <= WIDTH else \
        [f"{pad}{name}:", f"{pad}  phrases:", *(f"{pad}    - {quoted(p)}" for p in said),
         f"{pad}  goto: {goto}"]
    block = ([pad + "# " + " ".join(comment.split())] if comment else []) + lines_of
    n = key.line - 1
    if "other" not in intents:  # after the last intent and its deeper lines
        n += 1
        while n < len(lines) and lines[n].strip() and \
                len(lines[n]) - len(lines[n].lstrip(" ")) > key.col - 1:
            n += 1
    else:  # keep a comment that sits on the lines above `other:` with it
        while n > 0 and lines[n - 1].strip().startswith("#") and \
                lines[n - 1].startswith(pad + "#"):
            n -= 1
    return "\n".join(lines[:n] + block + lines[n:])
