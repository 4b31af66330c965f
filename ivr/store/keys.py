"""Every Redis key name ivr uses, in one place (see docs/operations.md, "Redis keys").

Call keys carry a call's CallSid; flow keys a flow id (and version). Nothing else spells a
key out: the store, the job functions, the CLI and the console format these.
"""

from __future__ import annotations

CALL = "ivr:call:{}"
"""Hash of one call: ``state`` (CallState JSON), ``turn``, ``twiml`` (the last served)."""
TRANSCRIPT = "ivr:transcript:{}"
"""List of one call's transcript lines (JSON), one per accepted turn."""
FLOW = "ivr:flow:{}:{}"
"""Source text of one flow version; ``FLOW.format(id, CURRENT)`` is the current pointer."""
CURRENT = "current"
CALLBACK_PLACED = "ivr:callback:placed:{}"
"""A placed callback's Twilio CallSid, by the CallSid of the call that asked for it."""
DRY_CALLBACKS = "ivr:callbacks:dry"
"""List of the callbacks a dry run would have placed (JSON requests)."""
