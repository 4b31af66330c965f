"""The inbox's top groups with a suggested edit each, for ``ivr inbox --top`` and the
console's inbox page.

An inbox item is one caller who reached "other": what they said at the menu that fell
through (``menu_said``) and their answer to the capture prompt (``said``). Items are
grouped by meaning (both joined, :mod:`ivr.qa.meaning`) or, without the model, by spelling
(:func:`ivr.ops.inbox.needs`); each group then gets a :class:`~ivr.qa.suggest.Suggestion`
for the menu most of its callers fell through, in that flow's current version.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ivr.flowlang.model import Flow
from ivr.ops.inbox import needs
from ivr.qa.grouping import Embed, Group, top
from ivr.qa.meaning import Grouped, embedder, group, similarity
from ivr.qa.suggest import Similar, Suggestion, fell_through, suggest

FlowOf = Callable[[str], Flow | None]
"""A flow id → its current version (None: not published or not valid)."""


NO_MENU = "no menu to suggest: {} is not published here (or not valid)"


@dataclass(frozen=True)
class InboxGroup:
    """One group: how many, examples, and the suggestion (None when no menu is known)."""

    group: Group
    flow: str
    suggestion: Suggestion | None

    def row(self) -> dict[str, Any]:
        """As plain data (JSON, templates)."""
        s = self.suggestion
        return {"count": self.group.count, "phrase": self.group.phrase,
                "examples": self.group.examples, "flow": self.flow,
                "suggestion": None if s is None else {
                    "kind": s.kind, "state": s.state, "intent": s.intent,
                    "phrases": list(s.phrases), "votes": s.votes, "text": s.text}}


def meaning_text(item: dict[str, Any]) -> str:
    """What the caller needed, in all their words: the menu's and the capture's."""
    parts = [str(item.get(k) or "").strip() for k in ("menu_said", "said")]
    return ". ".join(p.rstrip(".") for p in dict.fromkeys(parts) if p)


def grouped(items: Sequence[dict[str, Any]], flow_of: FlowOf, limit: int | None = 10,
            embed: Embed | None = None, use_model: bool = True) -> tuple[list[InboxGroup], str]:
    """The biggest groups of ``items`` with a suggestion each, and a note ('' when grouped
    by meaning; else why it was by spelling)."""
    if embed is None and use_model:
        embed = embedder()[0]
    made = group([meaning_text(i) for i in items], embed, use_model)
    if not made.by_meaning:  # by spelling: the menu's words, as the inbox always grouped
        made = Grouped(top([needs(i) for i in items]), False, made.note)
    similar = similarity(embed) if embed is not None and made.by_meaning else None
    flows: dict[str, Flow | None] = {}
    out = []
    for g in made.groups[:limit]:
        members = [items[m] for m in g.members]
        out.append(_with_suggestion(g, members, flows, flow_of, similar))
    return out, made.note


def _with_suggestion(g: Group, members: list[dict[str, Any]], flows: dict[str, Flow | None],
                     flow_of: FlowOf, similar: Similar | None) -> InboxGroup:
    where = Counter((str(i.get("flow", "")), str(i.get("state", ""))) for i in members)
    (fid, state), _ = where.most_common(1)[0]
    if fid not in flows:
        flows[fid] = flow_of(fid)
    flow = flows[fid]
    here = [i for i in members if (i.get("flow"), i.get("state")) == (fid, state)]
    menu = fell_through(flow, state, _path(here[0])) if flow else None
    if flow is None or menu is None:
        return InboxGroup(g, fid, None)
    return InboxGroup(g, fid, suggest(flow, menu, [needs(i) for i in here], similar))


def _path(item: dict[str, Any]) -> list[str]:
    path = item.get("path") or []
    if isinstance(path, str):
        try:
            path = json.loads(path)
        except ValueError:
            return []
    return [str(p) for p in path] if isinstance(path, list) else []


def render(groups: Sequence[InboxGroup], note: str = "", fmt: str = "table") -> str:
    """Groups as a table (count, phrase, examples, suggestion), JSON or CSV; the note
    (grouped by spelling) is a line of the table and a key of the JSON."""
    rows = [g.row() for g in groups]
    if fmt == "json":
        return json.dumps({"by_meaning": not note, "note": note, "groups": rows}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(("count", "phrase", "examples", "flow", "suggestion"))
        for r in rows:
            out.writerow((r["count"], r["phrase"], " | ".join(r["examples"]), r["flow"],
                          (r["suggestion"] or {}).get("text", "")))
        return buf.getvalue().rstrip("\n")
    lines = [f"note: {note}"] if note else []
    if not rows:
        return "\n".join([*lines, "inbox is empty"])
    for r in rows:
        lines.append(f"{r['count']:>5}  {r['phrase']}")
        for e in r["examples"][1:]:
            lines.append(f"       “{e}”")
        s = r["suggestion"]
        lines.append(f"       → {s['text']}" if s else f"       → {NO_MENU.format(r['flow'])}")
    return "\n".join(lines)
