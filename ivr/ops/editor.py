"""What the flow editor (CodeMirror, ``static/ops/editor.js``) asks the server for.

``GET /ops/editor/schema.json`` is the flow JSON Schema (:data:`ivr.flowlang.schema.FLOW_SCHEMA`,
the one the structure check uses and ``ivr schema`` prints), read by the editor's completion:
keys valid at the cursor's path, enum values such as speech models. The checks themselves
stay in :func:`ivr.ops.flows.check`. The bundle is built from ``web/`` (docs/ops-console.md,
"Editor").
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ivr.flowlang.schema import FLOW_SCHEMA
from ivr.ops import roles

bp = Blueprint("editor", __name__, url_prefix="/editor")


@bp.route("/schema.json")
@roles.needs(roles.VIEWER)
def schema() -> dict[str, Any]:
    """The flow schema as JSON (for completion; a viewer may read it)."""
    return FLOW_SCHEMA
