"""The flow graph you can read: Graphviz's drawing of the current version with the
archive's numbers on it, for the flow page's Graph tab (``static/ops/graph.js`` pans,
zooms and turns a click on a state into its YAML line).

``GET /ops/flows/<id>/map.svg?since=7d`` answers the SVG: every state's group carries
``data-state``, ``data-line`` (the line of its key in the YAML), ``data-calls``,
``data-zero-outs``, ``data-other``, ``data-hangups`` and a ``<title>`` tooltip with those
numbers; its label's third line says how many calls went through it. Nodes are filled by
their zero-out rate (:data:`HEAT`: the zero-out heat map on the flow itself), arrows are
as wide as the number of calls that took them. With the archive down the drawing comes
without numbers (``data-numbers="unavailable"``); a call never waits on any of this.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import SQLAlchemyError

from ivr.flowlang.catalog import Checked
from ivr.flowlang.graph import ANYWHERE, START, Graph, build, to_dot
from ivr.jobs.archive import ArchiveError
from ivr.jobs.archive_stats import Period
from ivr.ops import roles
from ivr.ops.flows import checked_version, svgs
from ivr.ops.live import archive
from ivr.ops.recent import remember
from ivr.ops.state_numbers import StateNumbers, state_numbers
from ivr.ops.trends import PERIODS, SPANS
from ivr.server.context import get_store

bp = Blueprint("graph", __name__, url_prefix="/flows")
SVG = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
HEAT = ((0.0, "#ffffff"), (0.05, "#fdebe7"), (0.15, "#f9c9bd"), (0.30, "#f29b86"),
        (0.50, "#e4604b"))
"""(lowest zero-out rate, fill): a state's colour is that of the highest bin it reaches."""
MAX_WIDTH = 7.0
DOT_TWEAKS = (
    ("{\n", '{\n    bgcolor="transparent"; pad=0.2; nodesep=0.35; ranksep=0.45;\n'),
    ('node [fontname="Helvetica", fontsize=11]', 'node [fontname="Helvetica", fontsize=12]'),
    ('edge [fontname="Helvetica", fontsize=9]', 'edge [fontname="Helvetica", fontsize=10]'),
)
"""The console's drawing: transparent, a little tighter, labels a size larger than
``ivr graph``'s (12 units: 12 px at 1:1)."""


def heat(rate: float) -> str:
    """The fill for a zero-out rate (0..1)."""
    return [fill for low, fill in HEAT if rate >= low][-1]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _with_numbers(graph: Graph, n: StateNumbers | None) -> Graph:
    """The drawing model with a third label line per state: its calls (and zero-outs)."""
    if n is None:
        return graph
    nodes = []
    for node in graph.nodes:
        if node.kind not in ("start", "note"):
            extra = _plural(n.through[node.id], "call")
            if n.zero_outs[node.id]:
                extra += f" · {_plural(n.zero_outs[node.id], 'zero-out')}"
            node = replace(node, label=f"{node.label}\n{extra}")
        nodes.append(node)
    return replace(graph, nodes=tuple(nodes))


def _dot_svg(source: str) -> str | None:
    """``dot -Tsvg`` of ``source``, cached by its digest (the same numbers, the same SVG)."""
    key = ("map", hashlib.sha256(source.encode()).hexdigest())
    hit = svgs().get(key)
    if hit is not None:
        return hit
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        out = subprocess.run([dot, "-Tsvg"], input=source.encode(), capture_output=True,
                             timeout=10, check=True).stdout.decode("utf-8")
    except (subprocess.SubprocessError, OSError):
        return None
    return svgs().add(key, out)


def _tooltip(state: str, n: StateNumbers | None, label: str) -> str:
    if state == START:
        return f"the call starts: {_plural(n.calls, 'call')}" if n else "the call starts"
    if state == ANYWHERE:
        zero = sum(n.zero_outs.values()) if n else 0
        return f"from any state, a person: {_plural(zero, 'call')} asked" if n else \
            "from any state, a person"
    if n is None:
        return f"{state}: click to edit its YAML" if label != "built-in" else state
    calls = n.through[state]
    zero = n.zero_outs[state]
    rate = f" ({100 * zero / calls:.0f}%)" if calls else ""
    return (f"{state} ({label})\n{_plural(calls, 'call')} through\n{zero} zero-outs{rate}\n"
            f"{n.other[state]} to \"other\"\n{n.hangups[state]} hang-ups"
            + ("" if label == "built-in" else "\nclick to edit its YAML"))


def _decorate_node(g: ET.Element, checked: Checked, n: StateNumbers | None) -> None:
    title = g.find(f"{{{SVG}}}title")
    state = title.text if title is not None and title.text else ""
    flow = checked.flow
    if flow is None or (state not in flow.states and not state.startswith("__")
                        and state != "human"):
        return
    pos = checked.source.key_positions.get(("states", state))
    g.set("data-state", state)
    if pos is not None:
        g.set("data-line", str(pos.line))
        g.set("tabindex", "0")
        g.set("role", "button")
        g.set("aria-label", f"state {state}: edit at line {pos.line}")
    if n is not None and state not in (START, ANYWHERE):
        for attr, counter in (("calls", n.through), ("zero-outs", n.zero_outs),
                              ("other", n.other), ("hangups", n.hangups)):
            g.set(f"data-{attr}", str(counter[state]))
        shape = next((c for c in g if c.tag.split("}")[-1] in ("polygon", "ellipse", "path")),
                     None)
        if shape is not None and state in flow.states:
            shape.set("fill", heat(n.zero_rate(state)))
    kind = flow.states[state].kind.value if state in flow.states else "built-in"
    if title is not None:
        title.text = _tooltip(state, n, kind)


def _decorate_edge(g: ET.Element, n: StateNumbers | None, most: int) -> None:
    title = g.find(f"{{{SVG}}}title")
    if n is None or title is None or not title.text or "->" not in title.text:
        return
    src, dst = title.text.split("->", 1)
    calls = sum(n.zero_outs.values()) if src == ANYWHERE else n.edges[(src, dst)]
    g.set("data-calls", str(calls))
    width = 1.0 + (MAX_WIDTH - 1.0) * calls / most if most and calls else 1.0
    for child in g:
        if child.tag == f"{{{SVG}}}path":
            child.set("stroke-width", f"{width:.1f}")
    title.text = f"{src} → {dst}: {_plural(calls, 'call')}"


def decorate(svg: str, checked: Checked, n: StateNumbers | None, period: str) -> str:
    """The SVG with data attributes, heat fills, arrow widths and tooltips."""
    root = ET.fromstring(svg)
    most = max(n.edges.values(), default=0) if n else 0
    for g in root.iter(f"{{{SVG}}}g"):
        if g.get("class") == "node":
            _decorate_node(g, checked, n)
        elif g.get("class") == "edge":
            _decorate_edge(g, n, most)
    root.set("class", "flow-map")
    root.set("data-period", period)
    root.set("data-numbers", "shown" if n is not None else "unavailable")
    root.set("data-calls", str(n.calls if n else 0))
    return ET.tostring(root, encoding="unicode")


def _numbers(flow_id: str, checked: Checked, period: str) -> StateNumbers | None:
    since = datetime.now(UTC) - SPANS[period] if period in SPANS else None
    flow = checked.flow
    version = flow.version if flow else ""
    try:
        return remember(("graph", flow_id, version, period), lambda: state_numbers(
            archive(), flow_id, flow, Period(flow_id, since)))
    except (ArchiveError, SQLAlchemyError):
        return None


@bp.route("/<flow_id>/map.svg")
@roles.needs(roles.VIEWER)
def map_svg(flow_id: str) -> Response:
    """The current version's graph with the period's numbers (``since``: 24h/7d/30d/all)."""
    store = get_store()
    version = store.current(flow_id) or ""
    checked = checked_version(store, flow_id, version) if version else None
    if checked is None or checked.flow is None or shutil.which("dot") is None:
        abort(404, f"no drawing of flow '{flow_id[:64]}' (not published, or no Graphviz)")
    period = request.args.get("since", "7d")
    period = period if period in PERIODS else "7d"
    n = _numbers(flow_id, checked, period)
    source = to_dot(_with_numbers(build(checked.flow), n))
    for plain, bigger in DOT_TWEAKS:
        source = source.replace(plain, bigger, 1)
    svg = _dot_svg(source)
    if svg is None:
        abort(404, "Graphviz could not draw this flow")
    return Response(decorate(svg, checked, n, period), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, no-store"})
