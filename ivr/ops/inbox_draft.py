"""``POST /ops/inbox/draft``: a group of the inbox becomes a DRAFT edit of its flow.

The inbox page's "Draft this edit" button (role ``ops``; the console's CSRF guard covers
the form) posts the group's suggestion: the flow, the menu, "add" phrases to an intent or
a "new" intent, and the phrases. The flow's current version is edited as text
(:mod:`ivr.flowlang.edit`: comments and formatting kept) and shown in the flow page's
editor exactly as a refused publish is (:func:`ivr.ops.flows.flow_page`): checked, with
its problems, not published. The person reads it, changes what they like and presses
Publish, which goes through the usual checks, conflict rule and audit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for

from ivr.flowlang.edit import EditError, add_intent, add_phrases
from ivr.flowlang.model import Flow
from ivr.ops import flows, roles
from ivr.server.context import get_store

bp = Blueprint("inbox_draft", __name__)
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MOST_PHRASES = 10
LONGEST = 200


def _phrases() -> list[str]:
    said = [" ".join(p.split()) for p in request.form.getlist("phrase")[:MOST_PHRASES]]
    return [p[:LONGEST] for p in said if p]


def _edited(text: str, form: dict[str, str], phrases: list[str]) -> str:
    """The flow text with the suggestion applied (:class:`EditError` when it cannot be)."""
    state, intent = form.get("state", ""), form.get("intent", "")
    if not NAME.match(state) or not NAME.match(intent):
        raise EditError("the menu and intent must be names like main_menu, found_card")
    if not phrases:
        raise EditError("no phrases to add")
    if form.get("kind") == "add":
        return add_phrases(text, state, intent, phrases)
    if form.get("kind") == "new":
        count = form.get("count", "")
        callers = f"{count} callers" if count.isdigit() else "callers"
        note = (f"from the inbox ({datetime.now(UTC).date().isoformat()}): {callers} said "
                "this at the menu; goes to a person until you route it")
        return add_intent(text, state, intent, phrases, note)
    raise EditError("kind must be add or new")


@bp.route("/inbox/draft", methods=["POST"])
@roles.needs(roles.OPS)
def draft() -> Any:
    """The flow page with the edited text as an unpublished draft (or back to the inbox
    with the reason, when the suggestion no longer fits the current version)."""
    flow_id = request.form.get("flow", "")[:64]
    store = get_store()
    version = store.current(flow_id) if flow_id else None
    text = store.flow_text(flow_id, version) if version else None
    if version is None or text is None:
        abort(404, f"no published flow '{flow_id}'")
    try:
        edited = _edited(text, request.form.to_dict(), _phrases())
    except EditError as exc:
        flash(f"No draft: {exc}.", "error")
        return redirect(url_for("ops.live.inbox", flow=flow_id))
    what = "phrases added to" if request.form.get("kind") == "add" else "a new intent"
    line = first_change(text, edited)
    flash(f"A draft from the inbox: {what} '{request.form.get('intent')}' in "
          f"{request.form.get('state')} (line {line}). Not published: "
          "check it, then Publish.", "info")
    return flows.flow_page(flow_id, edited, 200, None, version, goto_line=line)


def first_change(before: str, after: str) -> int:
    """The 1-based number of the first line that differs."""
    pairs = zip(before.splitlines(), after.splitlines(), strict=False)
    return next((n for n, (a, b) in enumerate(pairs, 1) if a != b),
                min(len(before.splitlines()), len(after.splitlines())) + 1)


def current_flow(flow_id: str) -> Flow | None:
    """``flow_id``'s current version as a checked flow (None: none, or it does not check)."""
    store = get_store()
    version = store.current(flow_id)
    checked = flows.checked_version(store, flow_id, version) if version else None
    return checked.flow if checked else None
