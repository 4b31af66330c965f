"""Console pages for flows: the list, one flow (graph, editor, versions, audit), publishing.

``POST /ops/flows/<id>/check`` takes YAML (the request body, or a ``yaml`` form field) and
answers JSON problems; the editor calls it as the person types. Publishing and rollback
go through :mod:`ivr.ops.versions` (checked, optimistic, audited). The checks of stored
versions and the Graphviz drawings are kept per app in LRUs (``compiled_cache_size`` and
``svg_cache_size`` entries): versions never change, so neither ever goes stale.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict
from importlib import resources
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ivr.config import Settings
from ivr.flowlang.catalog import Checked
from ivr.flowlang.diagnostics import Problem, errors_in, format_standard
from ivr.flowlang.graph import render
from ivr.flowlang.lru import LRU
from ivr.ops import roles
from ivr.ops import versions as ov
from ivr.server.context import get_store, settings
from ivr.store.calls import Store
from ivr.store.keys import CURRENT, FLOW

bp = Blueprint("flows", __name__, url_prefix="/flows")
MAX_YAML = 256 * 1024
CHECKED_KEY = "ivr.ops.checked"
SVG_KEY = "ivr.ops.svg"
Version = tuple[str, str]
"""(flow id, version)"""


def init_app(app: Flask, settings: Settings) -> None:
    """Give ``app`` its caches of checked versions and of drawn graphs."""
    app.extensions[CHECKED_KEY] = LRU[Version, Checked](settings.compiled_cache_size)
    app.extensions[SVG_KEY] = LRU[Version, str](settings.svg_cache_size)


def _checks() -> LRU[Version, Checked]:
    cache: LRU[Version, Checked] = current_app.extensions[CHECKED_KEY]
    return cache


def svgs() -> LRU[Version, str]:
    """The current app's drawn graphs (SVG text) by (flow id, version)."""
    cache: LRU[Version, str] = current_app.extensions[SVG_KEY]
    return cache


def flow_ids(store: Store) -> list[str]:
    """Every flow with a current version in Redis (SCAN, never KEYS; on a cluster, of every
    primary), under today's tagged name or an earlier version's untagged one."""
    suffix = ":" + CURRENT
    head = FLOW.format("\0", CURRENT).split("\0", 1)[0].split("{", 1)[0]  # "ivr:flow:"
    ids = set()
    for key in store.conn.scan_iter(head + "*" + suffix, count=500):
        middle = key.decode()[len(head):-len(suffix)]
        ids.add(middle[1:-1] if middle.startswith("{") and middle.endswith("}") else middle)
    return sorted(ids)


def checked_version(store: Store, flow_id: str, version: str) -> Checked | None:
    """The check of a stored version (cached per process: versions never change)."""
    hit = _checks().get((flow_id, version))
    if hit is not None:
        return hit
    text = store.flow_text(flow_id, version)
    if text is None:
        return None
    return _checks().add((flow_id, version), ov.check(text, flow_id))


def problem_rows(checked: Checked) -> list[dict[str, Any]]:
    """Problems as dicts for JSON and templates, each with the CLI's text block."""
    rows = []
    for p in checked.problems:
        row = asdict(p)
        row["severity"] = p.severity.value
        row["text"] = format_standard(p, checked.source.lines)
        rows.append(row)
    return rows


def _summary(store: Store, flow_id: str) -> dict[str, Any]:
    version = store.current(flow_id) or ""
    checked = checked_version(store, flow_id, version) if version else None
    problems = checked.problems if checked else []
    last = ov.last_entry(store.conn, flow_id)
    states = len(checked.flow.states) if checked and checked.flow else 0
    return {"id": flow_id, "version": version, "states": states, "last": last,
            "errors": len(errors_in(problems)),
            "warnings": len(problems) - len(errors_in(problems)),
            "description": checked.flow.description if checked and checked.flow else ""}


@bp.route("")
@roles.needs(roles.VIEWER)
def index() -> str:
    store = get_store()
    return render_template("ops/flows.html", flows=[_summary(store, f) for f in flow_ids(store)],
                           nav="flows")


def _current_or_404(store: Store, flow_id: str) -> tuple[str, str]:
    version = store.current(flow_id)
    text = store.flow_text(flow_id, version) if version else None
    if version is None or text is None:
        abort(404, f"no published flow '{flow_id}'")
    return version, text


def flow_page(flow_id: str, text: str | None = None, status: int = 200,
              result: ov.PublishResult | None = None, based_on: str | None = None,
              goto_line: int = 0) -> Any:
    """The flow page; ``text``/``based_on`` keep a refused edit in the editor, whose cursor
    starts on ``goto_line`` when given (a draft's first changed line)."""
    store = get_store()
    version, current_text = _current_or_404(store, flow_id)
    shown = current_text if text is None else text
    checked = result.checked if result and result.checked else ov.check(shown, flow_id)
    flow = checked.flow or (checked_version(store, flow_id, version) or checked).flow
    graph = render(flow, "mermaid") if flow else ""
    html = render_template(
        "ops/flow.html", nav="flows", flow_id=flow_id, version=version, text=shown,
        based_on=version if based_on is None else based_on, problems=problem_rows(checked),
        result=result, graph=graph, has_dot=bool(shutil.which("dot")),
        versions=ov.versions(store.conn, flow_id), audit=ov.audit(store.conn, flow_id),
        description=flow.description if flow else "", draft=text is not None,
        max_body=settings().max_body, goto_line=goto_line)
    return html, status


@bp.route("/<flow_id>")
@roles.needs(roles.VIEWER)
def show(flow_id: str) -> Any:
    return flow_page(flow_id)


def _yaml_in() -> str:
    if request.content_length and request.content_length > MAX_YAML:
        abort(413)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get("yaml", "")
    return request.get_data(as_text=True)


@bp.route("/<flow_id>/check", methods=["POST"])
@roles.needs(roles.VIEWER)
def check(flow_id: str) -> dict[str, Any]:
    """Live validation: YAML in, ``{ok, errors, warnings, problems: [...]}`` out."""
    checked = ov.check(_yaml_in(), flow_id)
    errors = errors_in(checked.problems)
    return {"ok": checked.flow is not None and not errors, "errors": len(errors),
            "warnings": len(checked.problems) - len(errors),
            "version": checked.flow.version if checked.flow else "",
            "problems": problem_rows(checked)}


@bp.route("/new", methods=["GET", "POST"])
@roles.needs(roles.OPS)
def new() -> Any:
    """The one way to a new flow id: a form (id + YAML), checked, created and audited."""
    if request.method == "GET":
        return _new_page(request.args.get("flow_id", "new-line"), None)
    flow_id = request.form.get("flow_id", "").strip()[:64]
    text = _yaml_in().replace("\r\n", "\n")
    got = ov.create(get_store(), flow_id, text, str(session.get("user", "?")),
                    request.form.get("note", ""))
    if got.ok:
        flash(got.message, "ok")
        return redirect(url_for("ops.flows.show", flow_id=flow_id))
    return _new_page(flow_id, got, text), 409 if "exists" in got.message else 422


def _new_page(flow_id: str, got: ov.PublishResult | None, text: str | None = None) -> str:
    if text is None:
        text = resources.files("ivr.ops").joinpath("new-flow.yaml").read_text("utf-8")
        text = text.replace("flow: new-line", f"flow: {flow_id}", 1)
    problems = problem_rows(got.checked) if got and got.checked else []
    return render_template("ops/new_flow.html", nav="flows", flow_id=flow_id, text=text,
                           result=got, problems=problems)


@bp.route("/<flow_id>/publish", methods=["POST"])
@roles.needs(roles.OPS)
def publish(flow_id: str) -> Any:
    """Publish the editor's text; refused with the problems, or with who got there first.
    An id with no published flow is a 404: new flows come only from :func:`new`."""
    if get_store().current(flow_id) is None:
        abort(404, f"There is no flow '{flow_id[:64]}' to publish to. A new flow is created "
                   "with New flow on the flows page (checked and audited).")
    text = _yaml_in().replace("\r\n", "\n")
    based_on = request.form.get("based_on", "")
    got = ov.publish(get_store(), flow_id, text, based_on, str(session.get("user", "?")),
                     request.form.get("note", ""))
    if got.ok:
        flash(got.message, "ok")
        return redirect(url_for("ops.flows.show", flow_id=flow_id))
    status = 409 if got.conflict is not None or "while you were" in got.message else 422
    if got.version and got.version == based_on:
        flash(got.message, "info")
        return redirect(url_for("ops.flows.show", flow_id=flow_id))
    return flow_page(flow_id, text, status, got, based_on)


@bp.route("/<flow_id>/rollback", methods=["POST"])
@roles.needs(roles.OPS)
def rollback(flow_id: str) -> Any:
    to = request.form.get("to", "")
    got = ov.rollback(get_store(), flow_id, to, request.form.get("based_on", ""),
                      str(session.get("user", "?")))
    flash(got.message + _problem_lines(got.problems), "ok" if got.ok else "error")
    return redirect(url_for("ops.flows.show", flow_id=flow_id, _anchor="history"))


def _problem_lines(problems: list[Problem]) -> str:
    return "".join(f" {p.code} line {p.line}: {p.message}." for p in problems[:5])


@bp.route("/<flow_id>/versions/<version>.yaml")
@roles.needs(roles.VIEWER)
def download(flow_id: str, version: str) -> Response:
    """One stored version as a file (to commit back to flows/)."""
    text = get_store().flow_text(flow_id, version)
    if text is None:
        abort(404)
    return Response(text, mimetype="text/yaml", headers={
        "Content-Disposition": f'attachment; filename="{flow_id}.yaml"'})


@bp.route("/<flow_id>/graph.svg")
@roles.needs(roles.VIEWER)
def graph_svg(flow_id: str) -> Response:
    """The current version drawn by Graphviz (404 when ``dot`` is not installed)."""
    store = get_store()
    version = request.args.get("version") or store.current(flow_id) or ""
    svg = _svg(store, flow_id, version)
    if svg is None:
        abort(404)
    return Response(svg, mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


def _svg(store: Store, flow_id: str, version: str) -> str | None:
    hit = svgs().get((flow_id, version))
    if hit is not None:
        return hit
    dot = shutil.which("dot")
    checked = checked_version(store, flow_id, version)
    if dot is None or checked is None or checked.flow is None:
        return None
    source = render(checked.flow, "dot").replace(
        "{\n", '{\n    bgcolor="transparent"; pad=0.2; nodesep=0.35; ranksep=0.45;\n', 1)
    try:
        out = subprocess.run([dot, "-Tsvg"], input=source.encode(), capture_output=True,
                             timeout=10, check=True).stdout.decode("utf-8")
    except (subprocess.SubprocessError, OSError):
        return None
    return svgs().add((flow_id, version), out)
