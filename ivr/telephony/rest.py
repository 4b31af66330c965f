"""Twilio's REST API, through the ``twilio`` SDK: the calls ivr places itself.

Tests replace Twilio at its HTTP boundary by giving the SDK's ``Client`` an
``http_client`` (see :data:`HTTP_CLIENT`); nothing else here is faked.
"""

from __future__ import annotations

from typing import Any

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

HTTP_CLIENT: Any = None
"""An SDK ``HttpClient`` to use instead of the real one (tests only; None: the SDK's)."""


class Rejected(RuntimeError):
    """Twilio answered the request with a client error (4xx): no call was created."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Twilio refused the call (HTTP {status}): {message}")
        self.status = status


def place_call(account_sid: str, token: str, to: str, from_: str, url: str) -> str:
    """Ring ``to`` from ``from_``; Twilio fetches ``url`` when answered. Returns the CallSid.

    Raises:
        Rejected: Twilio answered 4xx, so nothing rings. Anything else (a timeout, a lost
            connection, a 5xx) leaves it unknown whether the call was created.
    """
    client = Client(account_sid, token, http_client=HTTP_CLIENT)
    try:
        call = client.calls.create(to=to, from_=from_, url=url)
    except TwilioRestException as exc:
        if 400 <= int(exc.status) < 500:
            raise Rejected(int(exc.status), str(exc.msg)) from exc
        raise
    return str(call.sid)
