"""Twilio's REST API, through the ``twilio`` SDK: the calls ivr places itself.

Tests replace Twilio at its HTTP boundary by giving the SDK's ``Client`` an
``http_client`` (see :data:`HTTP_CLIENT`); nothing else here is faked.
"""

from __future__ import annotations

from typing import Any

from twilio.rest import Client

HTTP_CLIENT: Any = None
"""An SDK ``HttpClient`` to use instead of the real one (tests only; None: the SDK's)."""


def place_call(account_sid: str, token: str, to: str, from_: str, url: str) -> str:
    """Ring ``to`` from ``from_``; Twilio fetches ``url`` when answered. Returns the CallSid."""
    client = Client(account_sid, token, http_client=HTTP_CLIENT)
    call = client.calls.create(to=to, from_=from_, url=url)
    return str(call.sid)
