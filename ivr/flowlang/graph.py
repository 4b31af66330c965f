"""Draw a checked flow: Mermaid (the default, renders on GitHub) or Graphviz DOT.

Both writers share one small model (:func:`build`): a node per state labelled with its
kind, an edge per written route (intents with their keys, ``next``, hours open/closed,
the retries give-up) and the escape hatch made visible: a ``human`` node styled apart,
every edge into it drawn in red, and the global "press 0 / say agent from any state"
drawn once, from a note, rather than as an edge from every state. Output is byte-stable
(states in file order, edges in the order they are written) so it can be golden-tested.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from enum import StrEnum

from ivr.flowlang.catalog import flow_files
from ivr.flowlang.model import HUMAN, Flow, Kind, State
from ivr.flowlang.source import load_file

FORMATS = ("mermaid", "dot")
START = "__start__"
ANYWHERE = "__anywhere__"
BUILTIN_VOICEMAIL = "__voicemail__"
_MERMAID_RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef",
                     "click", "linkstyle", "direction", "default"}


class Style(StrEnum):
    """How an edge is drawn."""

    NORMAL = "normal"
    HUMAN = "human"       # into the human node: red
    GIVE_UP = "give_up"   # retries exhausted: dotted red
    ESCAPE = "escape"     # the global escape hatch: thick red
    FALLBACK = "fallback"  # human unavailable: dotted


@dataclass(frozen=True)
class Node:
    """A box in the drawing: ``kind`` picks its shape."""

    id: str
    label: str
    kind: str


@dataclass(frozen=True)
class Edge:
    """An arrow; ``label`` may be empty."""

    src: str
    dst: str
    label: str
    style: Style


@dataclass(frozen=True)
class Graph:
    """What both writers draw."""

    name: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def build(flow: Flow) -> Graph:
    """The drawing model of ``flow`` (which must have passed the checks)."""
    h = flow.human
    where = f"queue {h.enqueue}" if h.enqueue else f"dial {h.dial}"  # as the engine does
    closed = h.when_closed or BUILTIN_VOICEMAIL
    nodes = [Node(START, "call starts", "start")]
    nodes += [Node(s.name, f"{s.name}\n{s.kind.value}", s.kind.value)
              for s in flow.states.values()]
    nodes.append(Node(HUMAN, f"human\n{where}", "human"))
    if closed == BUILTIN_VOICEMAIL:
        nodes.append(Node(BUILTIN_VOICEMAIL, "voicemail\nbuilt-in", "voicemail"))
    asks = ", ".join([*(f"press {k}" for k in h.keys), *(f"say '{p}'" for p in h.phrases[:3])])
    nodes.append(Node(ANYWHERE, f"from any state:\n{asks}", "note"))
    edges = [Edge(START, flow.start, "", Style.NORMAL)]
    for s in flow.states.values():
        edges += _state_edges(s)
    edges.append(Edge(ANYWHERE, HUMAN, "", Style.ESCAPE))
    edges.append(Edge(HUMAN, closed, "closed / no answer", Style.FALLBACK))
    return Graph(flow.id, tuple(nodes), tuple(edges))


def _state_edges(s: State) -> list[Edge]:
    out = []
    for i in s.intents:
        keys = ",".join(i.keys)
        out.append(_edge(s.name, i.goto, f"{keys}: {i.name}" if keys else i.name))
    if s.kind is Kind.HOURS:
        out += [_edge(s.name, s.open, "open"), _edge(s.name, s.closed, "closed")]
    elif s.next:
        label = {Kind.CAPTURE: "then", Kind.VOICEMAIL: "saved"}.get(s.kind, "")
        out.append(_edge(s.name, s.next, label))
    if s.kind in (Kind.MENU, Kind.COLLECT):
        r = s.retries
        out.append(Edge(s.name, r.then, f"give up: {r.no_input} silent, {r.no_match} unclear",
                        Style.GIVE_UP))
    return out


def _edge(src: str, dst: str, label: str) -> Edge:
    return Edge(src, dst, label, Style.HUMAN if dst == HUMAN else Style.NORMAL)


def render(flow: Flow, fmt: str = "mermaid") -> str:
    """The flow drawn in ``fmt`` (``mermaid`` or ``dot``), ending with a newline."""
    graph = build(flow)
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "dot":
        return to_dot(graph)
    raise ValueError(f"unknown graph format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --- Mermaid ------------------------------------------------------------------------------

_M_SHAPES = {
    "start": ('(("', '"))'), "say": ('["', '"]'), "menu": ('{{"', '"}}'),
    "collect": ('[/"', '"/]'), "capture": ('>"', '"]'), "voicemail": ('[("', '")]'),
    "goodbye": ('(["', '"])'), "hours": ('{"', '"}'), "human": ('[["', '"]]'),
    "note": ('>"', '"]'),
}
_M_ARROWS = {Style.NORMAL: "-->", Style.HUMAN: "-->", Style.GIVE_UP: "-.->",
             Style.ESCAPE: "==>", Style.FALLBACK: "-.->"}
_M_CLASSES = (
    "classDef human fill:#fde2e2,stroke:#c00,stroke-width:3px,color:#600",
    "classDef note fill:#fff8e1,stroke:#c00,stroke-dasharray:4 2",
    "classDef goodbye fill:#eee,stroke:#666",
    "classDef start fill:#333,stroke:#333,color:#fff",
)


def _mermaid_ids(graph: Graph) -> dict[str, str]:
    """Node ids Mermaid accepts: reserved words (``end``) get a ``_state`` suffix."""
    taken = {n.id for n in graph.nodes}
    ids = {}
    for n in graph.nodes:
        new = n.id
        while new.lower() in _MERMAID_RESERVED or (new != n.id and new in taken):
            new += "_state"
        ids[n.id] = new
    return ids


_M_ESCAPES = str.maketrans({"#": "#35;", "&": "#amp;", '"': "#quot;", "<": "#lt;",
                            ">": "#gt;"})


def _m_text(text: str) -> str:
    """Label text Mermaid shows as written (entity codes), lines joined by ``<br/>``."""
    return "<br/>".join(line.translate(_M_ESCAPES) for line in text.split("\n"))


def to_mermaid(graph: Graph) -> str:
    """Mermaid ``flowchart`` source; the human node and every way to it drawn in red."""
    ids = _mermaid_ids(graph)
    lines = [f"%% call flow {graph.name}: generated by `ivr graph`", "flowchart TD"]
    for n in graph.nodes:
        left, right = _M_SHAPES[n.kind]
        lines.append(f"    {ids[n.id]}{left}{_m_text(n.label)}{right}")
    red: list[str] = []
    for index, e in enumerate(graph.edges):
        label = f'|"{_m_text(e.label)}"|' if e.label else ""
        lines.append(f"    {ids[e.src]} {_M_ARROWS[e.style]}{label} {ids[e.dst]}")
        if e.style in (Style.HUMAN, Style.GIVE_UP, Style.ESCAPE):
            red.append(str(index))
    lines += [f"    {c}" for c in _M_CLASSES]
    for kind in ("human", "note", "goodbye", "start"):
        members = [ids[n.id] for n in graph.nodes if n.kind == kind]
        if members:
            lines.append(f"    class {','.join(members)} {kind}")
    if red:
        lines.append(f"    linkStyle {','.join(red)} stroke:#c00,stroke-width:2px,color:#c00")
    return "\n".join(lines) + "\n"


# --- DOT ----------------------------------------------------------------------------------

_D_SHAPES = {
    "start": 'shape=circle, label="", width=0.25, style=filled, fillcolor="#333333"',
    "say": "shape=box", "menu": "shape=hexagon", "collect": "shape=parallelogram",
    "capture": "shape=cds", "voicemail": "shape=cylinder", "goodbye": "shape=oval, "
    'style=filled, fillcolor="#eeeeee"', "hours": "shape=diamond",
    "human": 'shape=doubleoctagon, style=filled, fillcolor="#fde2e2", color="#cc0000", '
             "penwidth=3",
    "note": 'shape=note, color="#cc0000", style=dashed',
}
_D_EDGES = {
    Style.NORMAL: "", Style.HUMAN: 'color="#cc0000", fontcolor="#cc0000"',
    Style.GIVE_UP: 'style=dotted, color="#cc0000", fontcolor="#cc0000"',
    Style.ESCAPE: 'style=bold, color="#cc0000", penwidth=2',
    Style.FALLBACK: "style=dotted",
}


def _d_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: Graph) -> str:
    """Graphviz source; ``dot -Tsvg`` draws it."""
    lines = [f"// call flow {graph.name}: generated by `ivr graph --format dot`",
             f"digraph {_d_text(graph.name)} {{",
             '    node [fontname="Helvetica", fontsize=11];',
             '    edge [fontname="Helvetica", fontsize=9];']
    for n in graph.nodes:
        label = "" if n.kind == "start" else f"label={_d_text(n.label)}, "
        lines.append(f"    {_d_text(n.id)} [{label}{_D_SHAPES[n.kind]}];")
    for e in graph.edges:
        attrs = [f"label={_d_text(e.label)}"] if e.label else []
        attrs += [_D_EDGES[e.style]] if _D_EDGES[e.style] else []
        tail = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"    {_d_text(e.src)} -> {_d_text(e.dst)}{tail};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- finding a flow by id or path -----------------------------------------------------------

def find_flow(ref: str, flows_dir: str) -> tuple[str | None, list[str]]:
    """The file of flow ``ref`` (a path, a file stem or a ``flow:`` id under ``flows_dir``).

    Returns:
        ``(path, [])`` when found, else ``(None, close_matches)`` for a "did you mean".
    """
    if os.path.isfile(ref):
        return ref, []
    ids: dict[str, str] = {}
    for path in flow_files([flows_dir]) if os.path.isdir(flows_dir) else ():
        stem = os.path.splitext(os.path.basename(path))[0]
        ids.setdefault(stem, path)
        data = load_file(path).data
        if isinstance(data, dict) and isinstance(data.get("flow"), str):
            ids.setdefault(data["flow"], path)
    if ref in ids:
        return ids[ref], []
    return None, difflib.get_close_matches(ref, sorted(ids), n=3)
