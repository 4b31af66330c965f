"""The browser simulator: a call on the same engine, with a keypad and a speech box.

A simulated call is kept in Redis as what the person typed (``ivr:ops:sim:{id}``: flow,
version or draft text, clock, input lines; 2 h TTL) and is replayed through
:class:`ivr.qa.simulate.Session` on every request: the same input language and engine path as
``ivr simulate``, so "save as QA transcript" produces a transcript that replays green.
It never touches ``ivr:call:*``, so simulated calls are not live calls. Compiled drafts
are kept per app in an LRU of ``draft_cache_size`` (never in the process's cache of
published versions, which drafts must not crowd out).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from ivr.flowlang.catalog import compile_text
from ivr.flowlang.diagnostics import FlowError
from ivr.flowlang.lru import LRU
from ivr.flowlang.machine import QUEUE_STATES, Compiled
from ivr.ops import roles
from ivr.qa.simulate import InputError, Session, parse_line
from ivr.qa.transcript import parse_clock
from ivr.server.context import get_store
from ivr.server.promises import engine_options

bp = Blueprint("sim", __name__, url_prefix="/sim")
KEY = "ivr:ops:sim:{}"
TTL = 2 * 3600
MAX_LINES = 200
DRAFTS_KEY = "ivr.ops.drafts"


def init_app(app: Flask, settings: Settings) -> None:
    """Give ``app`` its cache of compiled drafts (``draft_cache_size`` of them)."""
    app.extensions[DRAFTS_KEY] = LRU[str, Compiled](settings.draft_cache_size)


def drafts() -> LRU[str, Compiled]:
    """The current app's compiled drafts, by draft text."""
    cache: LRU[str, Compiled] = current_app.extensions[DRAFTS_KEY]
    return cache


@dataclass
class Entry:
    """One line of the on-screen transcript: the caller's input or what the IVR did."""

    who: str
    text: str = ""
    state: str = ""
    said: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


def _record(sim_id: str) -> dict[str, Any]:
    raw = get_store().conn.get(KEY.format(sim_id)) if sim_id.isalnum() else None
    if not raw:
        abort(404, "this simulated call has expired: start a new one")
    data: dict[str, Any] = json.loads(raw)
    if data.get("by") != session.get("user"):
        abort(404)
    return data


def _save(sim_id: str, data: dict[str, Any]) -> None:
    get_store().conn.set(KEY.format(sim_id), json.dumps(data), ex=TTL)


def _compiled(data: dict[str, Any]) -> Compiled:
    if data.get("text"):
        text: str = data["text"]
        hit = drafts().get(text)
        if hit is None:
            built = compile_text(text, f"{data['flow']}.yaml (draft)", cached=False)
            hit = drafts().add(text, built)
        return hit
    from ivr.server.context import flows

    return flows().pinned(get_store(), data["flow"], data["version"])


def replay(data: dict[str, Any]) -> tuple[Session, list[Entry]]:
    """Rebuild the call from its typed lines; the session and the transcript so far."""
    c = _compiled(data)
    s = Session(c, datetime.fromisoformat(data["clock"]), options=engine_options())
    s.start()
    log = [_ivr_entry(s)]
    for line in data["lines"]:
        s.handle(line)
        log += [Entry("caller", _describe(line)), _ivr_entry(s)]
    return s, log


def _ivr_entry(s: Session) -> Entry:
    t = s.turn
    return Entry("ivr", state=t.state or "", said=[" ".join(x.split()) for x in s.said or t.said],
                 actions=[a for a in t.actions if a not in ("say", "gather")])


def _describe(line: str) -> str:
    if not line:
        return "(silence)"
    if line.lower().startswith("say "):
        return f"“{line[4:]}”"
    if line[0].isdigit() or line[0] in "*#":
        return f"pressed {line}"
    return line


@bp.route("", methods=["GET"])
@roles.needs(roles.VIEWER)
def pick() -> str:
    """Choose a flow and a time of day to call."""
    from ivr.ops.flows import flow_ids

    now = _default_clock()
    return render_template("ops/sim_start.html", nav="sim", flows=flow_ids(get_store()),
                           clock=now.strftime("%Y-%m-%dT%H:%M"))


def _default_clock() -> datetime:
    from ivr.server.context import settings

    return settings().now() or datetime.now(UTC)


@bp.route("/start", methods=["POST"])
@roles.needs(roles.VIEWER)
def start() -> Any:
    """Start a simulated call on the current version, or on the editor's draft."""
    flow_id = request.form.get("flow", "")
    store = get_store()
    version = store.current(flow_id) or ""
    if not version:
        abort(404, f"no published flow '{flow_id}'")
    text = request.form.get("yaml", "")
    data: dict[str, Any] = {"flow": flow_id, "version": version, "text": text, "lines": [],
            "by": session.get("user"), "clock": _clock(request.form.get("clock", ""))}
    try:
        c = _compiled(data)
    except FlowError as exc:
        flash(f"The draft has {len(exc.problems)} error(s): fix them before calling it.",
              "error")
        return redirect(url_for("ops.flows.show", flow_id=flow_id))
    data["clock"] = _clock(request.form.get("clock", ""), c)
    sim_id = secrets.token_hex(8)
    _save(sim_id, data)
    return redirect(url_for("ops.sim.show", sim_id=sim_id))


def _clock(raw: str, c: Compiled | None = None) -> str:
    when = parse_clock(raw, c.flow if c else None) if raw.strip() else None
    return (when or _default_clock()).isoformat()


@bp.route("/<sim_id>")
@roles.needs(roles.VIEWER)
def show(sim_id: str) -> Any:
    data = _record(sim_id)
    s, log = replay(data)
    gather = s.driver.gather
    ringing = any(a in ("dial", "enqueue") for a in s.turn.actions)
    queued = "enqueue" in s.turn.actions or (s.turn.state or "") in QUEUE_STATES
    return render_template(
        "ops/sim.html", nav="sim", sim_id=sim_id, data=data, log=log, session_=s,
        ended=s.ended, where=s.where(), ringing=ringing, queued=queued,
        holding=queued and gather is None,
        recording="record" in s.turn.actions, draft=bool(data.get("text")),
        num_digits=gather.num_digits if gather else 1,
        finish_key=gather.finish_on_key if gather else "")


def line_from_form() -> str:
    """The simulator line for the pressed button, typed keys or spoken words."""
    form = request.form
    if form.get("keys", "").strip():
        return form["keys"].strip()
    if form.get("line") is not None:
        return form["line"].strip()
    words = " ".join(form.get("say", "").split())[:300]
    if words:
        conf = form.get("confidence", "").strip()
        return f"say {words}" + (f" @{conf}" if conf else "")
    return ""


@bp.route("/<sim_id>/send", methods=["POST"])
@roles.needs(roles.VIEWER)
def send(sim_id: str) -> Any:
    """Apply one caller input (a key, keys, words, silence, answer/busy, hang up)."""
    data = _record(sim_id)
    line = line_from_form()
    s, _log = replay(data)
    if s.ended:
        flash("The call has ended: start a new one.", "info")
    elif len(data["lines"]) >= MAX_LINES:
        flash("That is a very long call: start a new one.", "error")
    else:
        try:
            parse_line(line, s.turn)
            data["lines"].append(line)
            _save(sim_id, data)
        except InputError as exc:
            flash(str(exc), "error")
    return redirect(url_for("ops.sim.show", sim_id=sim_id) + "#end")


@bp.route("/<sim_id>/restart", methods=["POST"])
@roles.needs(roles.VIEWER)
def restart(sim_id: str) -> Any:
    data = _record(sim_id)
    data["lines"] = []
    _save(sim_id, data)
    return redirect(url_for("ops.sim.show", sim_id=sim_id))


@bp.route("/<sim_id>/transcript.yaml")
@roles.needs(roles.VIEWER)
def transcript(sim_id: str) -> Response:
    """The call as a QA transcript (``ivr replay`` format), as a download."""
    data = _record(sim_id)
    s, _log = replay(data)
    name = request.args.get("name", "").strip()[:120]
    current_app.logger.info("ops: %s saved simulated call %s", session.get("user"), sim_id)
    return Response(s.transcript(name), mimetype="text/yaml", headers={
        "Content-Disposition": f'attachment; filename="{data["flow"]}-{sim_id}.yaml"'})
