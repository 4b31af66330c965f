"""Who may do what in the console: every route declares the least role it needs.

Roles, lowest first:

- ``viewer`` reads the flow, live-call, inbox and metrics pages, checks YAML and tries
  flows in the simulator (which changes nothing anyone else sees). It sees no caller's
  story: the agent pages, a call's story and the caller timeline answer 403.
- ``agent`` is what a person who takes calls needs: everything a viewer sees, plus the
  agent list (calls waiting for or connected to a person), each call's story and the
  caller timeline. It changes nothing (no publish, no inbox changes).
- ``ops`` may do everything: also publish, roll back, create flows, mark inbox items
  handled.

A user's role is stored with the password hash: ``"<role> <hash>"`` (a bare hash, as
before roles existed, is ``ops``).

:func:`needs` marks a view; the console's guard reads the mark of the endpoint being
called and answers 403 when the user's role is lower, or when a route has no mark at all
(deny by default; a test walks the url_map so none is forgotten).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
VIEWER, OPS, AGENT = "viewer", "ops", "agent"
ROLES = (VIEWER, AGENT, OPS)
"""Roles a user may have, lowest first: each may do what the ones before it may."""
ATTR = "ivr_role"


def needs(role: str) -> Callable[[F], F]:
    """Declare the least role that may call the decorated view."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")

    def mark(view: F) -> F:
        setattr(view, ATTR, role)
        return view

    return mark


def required(view: Callable[..., Any] | None) -> str | None:
    """The role a view declared (None: undeclared, which nobody may call)."""
    return getattr(view, ATTR, None)


def allows(have: str, want: str | None) -> bool:
    """True when a user with role ``have`` may call a view that needs ``want``."""
    return want in ROLES and have in ROLES and ROLES.index(have) >= ROLES.index(want)


def split(stored: str) -> tuple[str, str]:
    """``(role, password hash)`` of a stored user value (a bare hash is ``ops``)."""
    head, sep, rest = stored.partition(" ")
    if sep and head in ROLES:
        return head, rest
    return OPS, stored


def join(role: str, password_hash: str) -> str:
    """The stored value of a user with ``role``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return f"{role} {password_hash}"
